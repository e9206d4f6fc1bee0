/* Runs an exported model (`shrink export c`) over puzzles: c_driver IN OUT N
 * reads N records of 1 + SHRINK_SEQ_LEN int32 (little-endian: the puzzle
 * identifier, then the tokens) from IN and writes N × SHRINK_SEQ_LEN predicted
 * tokens to OUT. Build: cc -std=c99 -I EXPORT_DIR
 * tools/c_driver.c EXPORT_DIR/model.c EXPORT_DIR/weights.c -lm */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv) {
    FILE *in, *out;
    long n, i;
    int32_t record[1 + SHRINK_SEQ_LEN], predicted[SHRINK_SEQ_LEN];
    if (argc != 4) {
        fprintf(stderr, "usage: %s IN.bin OUT.bin N\n", argv[0]);
        return 2;
    }
    n = strtol(argv[3], NULL, 10);
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    for (i = 0; i < n; i++) {
        if (fread(record, sizeof record, 1, in) != 1) {
            fprintf(stderr, "%s: only %ld puzzles\n", argv[1], i);
            return 2;
        }
        if (shrink_run_puzzle(record + 1, record[0], predicted) != 0) {
            fprintf(stderr, "puzzle %ld: token or puzzle identifier out of range\n", i);
            return 1;
        }
        fwrite(predicted, sizeof predicted, 1, out);
    }
    fclose(in);
    fclose(out);
    return 0;
}
