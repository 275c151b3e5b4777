/*
 * sb_bin2c.c - build-time helper: write a binary file (the nvcc fatbin) as a
 * C array, so the plugin carries its kernels and needs no file beside it.
 *   sb-bin2c <in> <out.c> <symbol>
 * defines  const unsigned char <symbol>[]  and  const size_t <symbol>_len.
 */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <in> <out.c> <symbol>\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "w");
    if (!in || !out) {
        fprintf(stderr, "sb-bin2c: cannot open %s\n", !in ? argv[1] : argv[2]);
        return 1;
    }
    /* 8-byte alignment: cuModuleLoadData reads the fatbin header in place. */
    fprintf(out, "#include <stddef.h>\n_Alignas(16) const unsigned char %s[] = {", argv[3]);
    long n = 0;
    int c;
    while ((c = fgetc(in)) != EOF) fprintf(out, "%s0x%02x,", n++ % 16 ? "" : "\n", c);
    fprintf(out, "\n0x00};\nconst size_t %s_len = %ld;\n", argv[3], n);
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0) bad = 1;
    return bad;
}
