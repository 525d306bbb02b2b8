# Reads a run's metrics.csv for the plot scripts (plots/common.gp runs it
# through gnuplot's `load "< ..."`) and prints gnuplot commands, so that
# gnuplot itself never meets a row it would choke on:
#   awk -v file=PATH -v need='step loss' -v block=NAME -v complete=0|1 -f plots/metrics.awk
# On success: the datablock $NAME with the columns in need (that order, by
# name), one row per complete data row, every field a finite number or
# empty; NAME_rows; and per column k of need the arrays NAME_n[k] (finite
# values), NAME_min[k], NAME_max[k], NAME_minpos[k] (smallest > 0; NaN if
# none). On a problem (no file, empty, header only, a missing column):
# NAME_error = "one line", nothing else.
# A run still going or killed may end mid-row: with complete=0 (the file
# does not end in a newline) the last line is dropped. A row with the wrong
# number of fields or no step is skipped; nan, inf, empty or garbage fields
# become empty (missing), which gnuplot's lines connect across.
#   awk -v file=params.csv -v param=NAME -f plots/metrics.awk
# prints NAME's value from a params.csv ("name","value" rows), or nothing;
# with -v numeric=1, nothing unless the value is a number.

function fail(message) {
    gsub(/["\\]/, "?", message)
    printf "%s_error = \"%s\"\n", block, message
    failed = 1
    exit
}

function is_number(text) {
    if (text !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) return 0
    return text + 0 < 1e308 && text + 0 > -1e308
}

function take(line,    fields, n, k, out, value, number) {
    sub(/\r$/, "", line)
    n = split(line, fields, ",")
    if (n != n_head || !is_number(fields[column[1]])) return
    out = ""
    for (k = 1; k <= n_need; k++) {
        value = fields[column[k]]
        if (!is_number(value)) value = ""
        else {
            number = value + 0
            if (!count[k] || number < low[k]) low[k] = number
            if (!count[k] || number > high[k]) high[k] = number
            if (number > 0 && (!positives[k] || number < lowpos[k])) lowpos[k] = number
            if (number > 0) positives[k]++
            count[k]++
        }
        out = out (k > 1 ? "," : "") value
    }
    rows[++n_rows] = out
}

function param_value(    line, fields) {
    while ((getline line < file) > 0) {
        sub(/\r$/, "", line)
        if (split(line, fields, "\",\"") == 2 && fields[1] == "\"" param) {
            sub(/"$/, "", fields[2])
            if (!numeric || is_number(fields[2])) print fields[2]
            exit
        }
    }
    exit
}

BEGIN {
    if (param != "") param_value()
    if (block == "") block = "metrics"
    n_need = split(need, want, " ")
    status = (getline line < file)
    if (status < 0) fail("cannot read " file)
    if (status == 0) fail(file " is empty: the run has not written its header yet")
    sub(/\r$/, "", line)
    header = line
    n_head = split(line, head, ",")
    for (k = 1; k <= n_need; k++) {
        column[k] = 0
        for (j = 1; j <= n_head; j++) if (head[j] == want[k]) column[k] = j
        if (!column[k]) fail(file " has no column " want[k] " (its header: " header ")")
    }
    have = 0
    while ((getline line < file) > 0) {
        if (have) take(previous)
        previous = line
        have = 1
    }
    if (have && complete) take(previous)
    if (n_rows == 0) fail(file " has no complete data row yet")
    printf "$%s << EOD\n", block
    for (k = 1; k <= n_need; k++) printf "%s%s", (k > 1 ? "," : ""), want[k]
    printf "\n"
    for (i = 1; i <= n_rows; i++) print rows[i]
    print "EOD"
    printf "%s_error = \"\"\n%s_rows = %d\n", block, block, n_rows
    printf "array %s_n[%d]\narray %s_min[%d]\narray %s_max[%d]\narray %s_minpos[%d]\n",
        block, n_need, block, n_need, block, n_need, block, n_need
    for (k = 1; k <= n_need; k++) {
        printf "%s_n[%d] = %d\n", block, k, count[k]
        printf "%s_min[%d] = %s\n", block, k, count[k] ? sprintf("%.17g", low[k]) : "NaN"
        printf "%s_max[%d] = %s\n", block, k, count[k] ? sprintf("%.17g", high[k]) : "NaN"
        printf "%s_minpos[%d] = %s\n", block, k, positives[k] ? sprintf("%.17g", lowpos[k]) : "NaN"
    }
}
