/* Placeholder until the framework lands: prints usage. */
#include <stdio.h>
int main(void) {
    fprintf(stderr, "srambench: not built yet\n");
    return 2;
}
