# pack_libs.sh - sourced by bench/gpu_check.sh and bench/gpu_train.sh.
#
# pack_libs DEST BINARY...: copies into DEST/lib the shared libraries the
# binaries need beyond the C library (cJSON, libjpeg, ...), which the GPU
# machine lacks, then checks that the binaries resolve everything with
# LD_LIBRARY_PATH=DEST/lib. The caller defines die().
pack_libs() {
    local dest=$1
    shift
    mkdir -p "$dest/lib"
    ldd "$@" | awk '/=> \// {print $3}' | sort -u |
        grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' | while read -r lib; do
            cp -L "$lib" "$dest/lib/"
        done
    if LD_LIBRARY_PATH=$dest/lib ldd "$@" | grep -q 'not found'; then
        die "$* has unresolved libraries"
    fi
}
