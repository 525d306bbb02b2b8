#!/usr/bin/env bash
# The digit-sum recipe over several seeds in ag and in PyTorch (issue 14): a
# single seed compares two unrelated random draws (ag's and PyTorch's
# generators give different splits, inits and orders for the same number),
# so the README reports the spread over seeds instead.
#
# For each seed in SEEDS, model in MODELS: bin/digitsum train and
# bench/pytorch/digitsum_train.py with the same recipe (all 10,000 length-4
# sequences, 80/20 seeded split, hidden 128, batch 64 mixing lengths, Adam
# 1e-3, EPOCHS epochs), one thread each, one run at a time. Every epoch's
# training loss, validation loss and validation accuracy go to
# bench/digitsum_seeds.csv (framework,model,seed,epoch,loss,val_loss,val_acc),
# then the table: mean and min-max of val_acc at epochs 20 and EPOCHS, and
# the loss spikes (an epoch whose mean training loss is above the previous
# epoch's by more than SPIKE times, after epoch 5).
#
# Usage (from the repository root; needs PyTorch: apt-get install python3-torch):
#   bench/digitsum_seeds.sh            the sweep (16 minutes on 2 shared AMD EPYC cores), then the table
#   bench/digitsum_seeds.sh --table    only the table, from the committed CSV
# SEEDS="1 2 3 4 5" MODELS="lstm rnn" EPOCHS=50 SPIKE=1.5 override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3 4 5"}
MODELS=${MODELS:-"lstm rnn"}
EPOCHS=${EPOCHS:-50}
SPIKE=${SPIKE:-1.5}
CSV=bench/digitsum_seeds.csv
DATA=data/seq_len_4_only.csv
export OPENBLAS_NUM_THREADS=1

table() {
    awk -F, -v last="$EPOCHS" -v spike="$SPIKE" '
        NR == 1 { next }
        {
            run = $1 "," $2 "," $3
            if ($4 == 20 || $4 == last) {
                key = $1 "," $2 "," $4
                n[key]++; sum[key] += $7
                if (!(key in lo) || $7 < lo[key]) lo[key] = $7
                if (!(key in hi) || $7 > hi[key]) hi[key] = $7
            }
            # A spike: the epoch mean of the training loss jumps up.
            if ($4 > 5 && (run in prev) && $5 > spike * prev[run]) {
                spikes[$1 "," $2]++
                where[$1 "," $2] = where[$1 "," $2] " s" $3 "/e" $4
            }
            prev[run] = $5
        }
        END {
            printf "| framework | model | seeds | val_acc at 20 epochs: mean (min-max) | at %d epochs: mean (min-max) | loss spikes (seed/epoch) |\n", last
            printf "|---|---|---:|---:|---:|---|\n"
            split("ag pytorch", fw, " "); split("rnn lstm", md, " ")
            for (f = 1; f <= 2; f++) for (m = 1; m <= 2; m++) {
                a = fw[f] "," md[m] ",20"; b = fw[f] "," md[m] "," last
                if (!(a in n)) continue
                printf "| %s | %s | %d | %.2f%% (%.2f-%.2f) | %.2f%% (%.2f-%.2f) | %d%s |\n", fw[f], md[m], n[b],
                    100 * sum[a] / n[a], 100 * lo[a], 100 * hi[a], 100 * sum[b] / n[b], 100 * lo[b], 100 * hi[b],
                    spikes[fw[f] "," md[m]], where[fw[f] "," md[m]]
            }
        }' "$CSV"
}

if [ "${1:-}" = "--table" ]; then
    table
    exit 0
fi

/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "digitsum_seeds.sh: needs PyTorch (apt-get install python3-torch)" >&2; exit 2; }
make --no-print-directory -j2 bin/digitsum >/dev/null
test -f "$DATA" || bin/digitsum gen-data --len 4 --only --out "$DATA"
work=$(mktemp -d /tmp/digitsum_seeds.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
echo "framework,model,seed,epoch,loss,val_loss,val_acc" >"$work/all.csv"
for seed in $SEEDS; do
    for model in $MODELS; do
        bin/digitsum train --model "$model" --data "$DATA" --epochs "$EPOCHS" --seed "$seed" --threads 1 --quiet \
            --run-dir "$work/ag-$model-$seed" | grep summary
        # metrics.csv: step,loss,val_loss,val_acc,seconds (step = epoch)
        awk -F, -v m="$model" -v s="$seed" 'NR > 1 { print "ag," m "," s "," $1 "," $2 "," $3 "," $4 }' \
            "$work/ag-$model-$seed/metrics.csv" >>"$work/all.csv"
        /usr/bin/python3 bench/pytorch/digitsum_train.py --data "$DATA" --model "$model" --seed "$seed" \
            --epochs "$EPOCHS" --out "$work/torch-$model-$seed.csv"
        awk -F, -v m="$model" -v s="$seed" 'NR > 1 { print "pytorch," m "," s "," $1 "," $2 "," $3 "," $4 }' \
            "$work/torch-$model-$seed.csv" >>"$work/all.csv"
    done
done
mv "$work/all.csv" "$CSV"
echo "sweep: $((SECONDS - start)) s; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u +%Y-%m-%d)"
table
