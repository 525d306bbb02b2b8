/* Internal to the run layer: metrics.csv's numbers (format_number.c). */
#ifndef AG_FORMAT_NUMBER_H
#define AG_FORMAT_NUMBER_H

/* Writes value as "%.9g" into out (at least 32 bytes); returns the length. */
int ag_format_nine_digits(double value, char *out);

#endif
