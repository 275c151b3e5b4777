/* Figures of the simulator before scheduler.fusion existed (commit b117680),
 * printed as exact doubles by test_sram_fusion with SB_PRINT_GOLDEN=1 on the
 * unmodified code: fusion = none must reproduce them bit for bit. Re-printed
 * (fusion = none) when the double-buffered latency became a pipeline over the
 * tile steps (issue 17 item 3, docs/sram-model.md section 6): the bounds and
 * the external bytes stayed bit for bit, latency fell by 0 to 0.29% and energy
 * (leakage and idle clock over the time) by 0 to 0.015%. Rows:
 * model, preset, latency_ns, energy_pj, bound latency_ns, bound energy_pj,
 * compulsory latency_ns, compulsory energy_pj, external bytes. */
    {"tests/fuzz/corpus/sbm/tiny_fixed.sbm", "sram256.toml", 0x1.d1ap+15, 0x1.4153f353f7ceep+20, 0x1.294bb13b13b14p+14, 0x1.cfae3c09c4735p+19, 0x1.294bb13b13b14p+14, 0x1.cfae3c09c4735p+19, 0x1.4ep+10},
    {"tests/fuzz/corpus/sbm/tiny_fixed.sbm", "sram1k.toml", 0x1.0d6189d89d89dp+15, 0x1.363a1bcf29bf6p+20, 0x1.294bb13b13b14p+14, 0x1.cfb08c439581p+19, 0x1.294bb13b13b14p+14, 0x1.cfb08c439581p+19, 0x1.33cp+10},
    {"tests/fuzz/corpus/sbm/tiny_float.sbm", "sram256.toml", 0x1.91f4c4ec4ec4ep+15, 0x1.27c71ca916062p+20, 0x1.11dbb13b13b14p+14, 0x1.a8c6f0ff8702bp+19, 0x1.11dbb13b13b14p+14, 0x1.a8c6f0ff8702bp+19, 0x1.36cp+10},
    {"tests/fuzz/corpus/sbm/tiny_float.sbm", "sram1k.toml", 0x1.fa2793b13b13ap+14, 0x1.222f1c6ca0f0fp+20, 0x1.11dbb13b13b14p+14, 0x1.a8c9149581062p+19, 0x1.11dbb13b13b14p+14, 0x1.a8c9149581062p+19, 0x1.24cp+10},
    {"plugins/models/tiny/tiny.sbm", "sram256.toml", 0x1.ca4e832526711p+27, 0x1.54717c54a1f69p+31, 0x1.aff0282762762p+24, 0x1.ff4ed581cafdp+29, 0x1.aff0282762762p+24, 0x1.ff4ed581cafdp+29, 0x1.9d61b8p+21},
    {"plugins/models/tiny/tiny.sbm", "sram1k.toml", 0x1.da7a214dfbc1ap+25, 0x1.59e279a2abf5cp+30, 0x1.9f7c9e4ec4ec4p+24, 0x1.ee3d51e5c3127p+29, 0x1.9f7c9e4ec4ec4p+24, 0x1.ee3d51e5c3127p+29, 0x1.bec81p+20},
