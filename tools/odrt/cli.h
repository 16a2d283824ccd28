#ifndef ODRT_CLI_H
#define ODRT_CLI_H
#include "odrt.h"
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
/* monotonic seconds */
double cli_now(void);
/* cli_now() when main() started */
extern double cli_start;
/* a build flag at argv[*i] (with its value): 1 consumed (i advanced), 0 not a build flag, -1 bad value (printed) */
int cli_build_flag(int argc, char **argv, int *i, odrt_build_options_t *o, const char *verb);
int cli_is_engine_file(const char *path);
void print_engine_summary(const odrt_engine_t *e);
/* an engine file is loaded; anything else is built in memory with o. 0 ok, else exit status (printed) */
int cli_open_engine(const char *path, const odrt_build_options_t *o, int threads, odrt_engine_t **e, double *load_s, int *built);
/* the environment's knobs (odrt --help) as engine options, odrt's log to stderr; called first */
void cli_env_init(void);
extern odrt_engine_options_t cli_engine_opts;
/* build options with their defaults and the environment's engine options */
void cli_build_options_init(odrt_build_options_t *o);
/* an engine file with the environment's options (threads 0: the stored count) */
odrt_status_t cli_load_engine(const char *path, int threads, odrt_engine_t **e);
/* print "odrt: WHAT: <last error>" and return 1 */
int cli_error(const char *what);
int write_text_file(const char *path, const char *text);
#endif
