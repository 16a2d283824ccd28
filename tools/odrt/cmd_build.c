/* odrt build: TF OD API export -> engine file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_build(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    odrt_build_options_t o;
    cli_build_options_init(&o);
    for (int i = 1; i < argc; i++) {
        int r = cli_build_flag(argc, argv, &i, &o, "build");
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-' || model) {
            fprintf(stderr, "odrt build: unexpected argument '%s' (see odrt --help)\n", argv[i]);
            return 2;
        } else model = argv[i];
    }
    if (!model || !out) {
        fprintf(stderr, "odrt build: usage: odrt build MODEL -o ENGINE.odrt [options]\n");
        return 2;
    }
    double t0 = cli_now();
    odrt_model_t *m;
    if (odrt_model_load(model, &m) != ODRT_OK) return cli_error("");
    odrt_engine_t *e;
    odrt_status_t rc = odrt_engine_build(m, &o, &e);
    odrt_model_free(m);
    if (rc != ODRT_OK) return cli_error(model);
    if (odrt_engine_save(e, out) != ODRT_OK) {
        odrt_engine_free(e);
        return cli_error("");
    }
    double dt = cli_now() - t0;
    printf("built %s from %s in %.2f s\n", out, model, dt);
    print_engine_summary(e);
    odrt_engine_free(e);
    return 0;
}
