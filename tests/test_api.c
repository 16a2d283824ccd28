/* The public API's contracts: versions, options structs read by their struct_size (an older
 * caller's shorter struct, a newer caller's longer one), the log callback, ODRT_ERR_DEVICE, and
 * static strings that stay put. Uses the bundled model (argv[1]) and a photo (argv[2]). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "odrt.h"

static int n_info, n_profile_lines;
static void logger(odrt_log_level_t level, const char *msg, void *user) {
    (void)user;
    if (level == ODRT_LOG_INFO) n_info++;
    if (strstr(msg, "odrt profile:")) n_profile_lines++;
}

static odrt_status_t build(const char *model, const odrt_build_options_t *o, odrt_engine_t **e) {
    odrt_model_t *m;
    odrt_status_t rc = odrt_model_load(model, &m);
    if (rc == ODRT_OK) rc = odrt_engine_build(m, o, e);
    odrt_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_api MODEL PHOTO\n");
        return 2;
    }
    const char *model = argv[1];
    /* versions */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ODRT_VERSION_MAJOR, ODRT_VERSION_MINOR, ODRT_VERSION_PATCH);
    CHECK(odrt_version_number() == ODRT_VERSION_NUMBER, "odrt_version_number %d, header %d", odrt_version_number(), ODRT_VERSION_NUMBER);
    CHECK(!strcmp(odrt_version(), want), "odrt_version '%s', header %s", odrt_version(), want);
    CHECK(!strcmp(odrt_status_str(ODRT_ERR_DEVICE), "device error"), "status string of ODRT_ERR_DEVICE");

    /* struct_size 0 (never initialised) is refused */
    odrt_engine_t *e = NULL;
    odrt_build_options_t o;
    memset(&o, 0, sizeof o);
    CHECK(build(model, &o, &e) == ODRT_ERR_ARG && strstr(odrt_last_error(), "struct_size"), "struct_size 0 refused");
    odrt_engine_free(e), e = NULL;

    /* an older caller: the struct ends before `engine`; what lies past struct_size is not read */
    size_t old = offsetof(odrt_build_options_t, engine);
    unsigned char *buf = malloc(sizeof o + 64);
    memset(buf, 0xff, sizeof o + 64);
    odrt_build_options_init(&o);
    o.struct_size = old, o.threads = 1;
    memcpy(buf, &o, old);
    CHECK(build(model, (const odrt_build_options_t *)buf, &e) == ODRT_OK, "an older caller's shorter options");
    CHECK(e && odrt_engine_batch(e) == 1, "defaults past the old struct");
    odrt_engine_free(e), e = NULL;

    /* a newer caller: a longer struct is fine while its unknown tail is zero, refused otherwise */
    memset(buf, 0, sizeof o + 64);
    o.struct_size = sizeof o + 16;
    memcpy(buf, &o, sizeof o);
    CHECK(build(model, (const odrt_build_options_t *)buf, &e) == ODRT_OK, "a newer caller's longer options, tail zero");
    odrt_engine_free(e), e = NULL;
    buf[sizeof o + 3] = 1;
    CHECK(build(model, (const odrt_build_options_t *)buf, &e) == ODRT_ERR_ARG && strstr(odrt_last_error(), "larger"),
          "a field this odrt does not know is set");
    odrt_engine_free(e), e = NULL;
    free(buf);

    /* the log: nothing until a callback is set; a profiling engine reports when freed */
    odrt_engine_options_t eo;
    odrt_engine_options_init(&eo);
    eo.profile = 1, eo.threads = 1;
    odrt_build_options_init(&o);
    o.engine = &eo;
    odrt_set_log(logger, NULL);
    CHECK(build(model, &o, &e) == ODRT_OK, "build with engine options");
    odrt_tensor_t *img = NULL;
    CHECK(odrt_image_load(argv[2], 0, 0, &img) == ODRT_OK, "photo");
    odrt_detections_t d = {0, NULL};
    const odrt_tensor_t *frames[1] = {img};
    CHECK(e && img && odrt_engine_detect(e, 1, frames, &d) == ODRT_OK, "detect");
    odrt_detections_clear(&d);
    CHECK(n_profile_lines == 0, "no profile before the engine is freed");
    odrt_engine_free(e), e = NULL;
    CHECK(n_profile_lines == 2 && n_info == 2, "engine and CPU profiles logged at free (%d, %d)", n_profile_lines, n_info);
    odrt_set_log(NULL, NULL);
    odrt_tensor_free(img);

    /* a CUDA engine where the device is missing: ODRT_ERR_DEVICE naming it; where it is there, ready */
    if (strstr(odrt_backends(), "cuda")) {
        odrt_build_options_init(&o);
        o.device = "cuda";
        CHECK(build(model, &o, &e) == ODRT_OK, "a CUDA engine builds anywhere");
        odrt_status_t rc = e ? odrt_engine_prepare(e) : ODRT_ERR_ARG;
        CHECK(rc == ODRT_OK || (rc == ODRT_ERR_DEVICE && strstr(odrt_last_error(), "no usable GPU")), "prepare: %s",
              odrt_status_str(rc));
        odrt_engine_free(e), e = NULL;
    }

    /* odrt_supported_op: each string is its own, static */
    const char *first = NULL;
    char copy[128] = "";
    int n_domain = 0;
    for (int i = 0; odrt_supported_op(i); i++)
        if (strchr(odrt_supported_op(i), '.') && n_domain++ == 0) {
            first = odrt_supported_op(i);
            snprintf(copy, sizeof copy, "%s", first);
        }
    CHECK(n_domain >= 2 && first && !strcmp(first, copy), "an op name kept its text after later calls ('%s')", copy);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
