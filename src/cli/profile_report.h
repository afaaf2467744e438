/* qbench --profile's output: the profile of the timed steps as tables sorted by time, or as
 * a JSON object. */
#ifndef QTRAIN_PROFILE_REPORT_H
#define QTRAIN_PROFILE_REPORT_H

#include <stdio.h>

#include "qtrain/json.h"
#include "qtrain/profile.h"

void profile_print_text(FILE *f, const qt_profile *p, int batch);
/* The profile as a JSON object (the value of a "profile" field). */
void profile_write_json(qt_json_writer *w, const qt_profile *p);

#endif
