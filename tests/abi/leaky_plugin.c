/* A plugin that exports a helper besides its entry, as a plugin did when its
 * static libraries were built with default visibility: check_exports.py must
 * refuse it (test abi_exports_catches). */
#include "sb_plugin.h"

SB_EXPORT int sb_leaky_helper(int x);
SB_EXPORT int sb_leaky_helper(int x) {
    return x + 1;
}

static const sb_model_plugin plugin = {
    SB_PLUGIN_HEADER_INIT(SB_KIND_MODEL, "leaky", "1.0.0", "exports a helper", NULL),
    NULL, NULL};
SB_EXPORT const sb_plugin_header *sb_plugin_entry = &plugin.hdr;
