/* Runs an exported VAE (`shrink export c` of a shrink-vae model) over images: c_vae_driver IN OUT N
 * reads N images of SHRINK_PIXELS float32 (CHW, intensities in [0, 1]) from IN and writes, per image,
 * mu and logvar (SHRINK_LATENT_DIM each) and the reconstruction (SHRINK_PIXELS) as float32 to OUT.
 * Build: cc -std=c99 -I EXPORT_DIR tools/c_vae_driver.c EXPORT_DIR/model.c EXPORT_DIR/weights.c -lm */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv) {
    static float image[SHRINK_PIXELS], mu[SHRINK_LATENT_DIM], logvar[SHRINK_LATENT_DIM], recon[SHRINK_PIXELS];
    FILE *in, *out;
    long n, i;
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
        if (fread(image, sizeof image, 1, in) != 1) {
            fprintf(stderr, "%s: only %ld images\n", argv[1], i);
            return 2;
        }
        if (shrink_vae_reconstruct(image, mu, logvar, recon) != 0) {
            fprintf(stderr, "image %ld: a pixel is not finite\n", i);
            return 1;
        }
        if (fwrite(mu, sizeof mu, 1, out) != 1 || fwrite(logvar, sizeof logvar, 1, out) != 1 || fwrite(recon, sizeof recon, 1, out) != 1) {
            fprintf(stderr, "cannot write %s\n", argv[2]);
            return 2;
        }
    }
    return fclose(out) == 0 && fclose(in) == 0 ? 0 : 2;
}
