#!/usr/bin/env bash
# Entry point of the swx images, and the one place the service commands are spelled out: Compose,
# Kubernetes and the tests start swx through it (tests/infra, tests/dashboards/test_browser.py).
#
#   migrate                     alembic upgrade of the results database (SWX_DATABASE_URL), then, when
#                               SWX_READONLY_ROLE is set, read access for that role (the dashboard's)
#   deploy                      create the work pools and register the deployments of flows/prefect.yaml
#   worker POOL                 a Prefect process worker for POOL (swx-cpu, swx-gpu)
#   dashboard [streamlit args]  the Streamlit ops dashboard on port 8501 (or --server.port)
#   dask-scheduler | dask-worker   the backfill cluster (scheduler on 8786, its dashboard on 8787;
#                               a worker's HTTP health on 8789)
#   swx ... | prefect ... | python ...   any of these, as is
#
# SWX_ENTRYPOINT_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SWX_REPO_DIR="${SWX_REPO_DIR:-$(cd "$HERE/../.." && pwd)}"
cd "$SWX_REPO_DIR"
export PYTHONPATH="$SWX_REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
export PREFECT_LOGGING_EXTRA_LOGGERS="${PREFECT_LOGGING_EXTRA_LOGGERS:-swx}"
PY="${SWX_PYTHON:-python}"
if [[ "$PY" == */* ]]; then  # its prefect, dask, streamlit come first
    PATH="$(dirname "$PY"):$PATH"
    export PATH
fi

run() {  # a step; the last step of a command is `final`: exec'd, so the service gets the signals (PID 1)
    if [ "${SWX_ENTRYPOINT_DRY_RUN:-0}" = "1" ]; then
        printf '%q ' "$@"; printf '\n'
    else
        "$@"
    fi
}
final() {
    if [ "${SWX_ENTRYPOINT_DRY_RUN:-0}" = "1" ]; then
        run "$@"
    else
        exec "$@"
    fi
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
    migrate)
        run "$PY" -m swx.cli db upgrade
        if [ -n "${SWX_READONLY_ROLE:-}" ]; then
            final "$PY" -m swx.cli db grant-read-only "$SWX_READONLY_ROLE"
        fi
        ;;
    deploy)
        for pool in swx-cpu swx-gpu; do
            if [ "${SWX_ENTRYPOINT_DRY_RUN:-0}" = "1" ] || ! prefect work-pool inspect "$pool" >/dev/null 2>&1; then
                run prefect work-pool create "$pool" --type process
            fi
        done
        final prefect --no-prompt deploy --prefect-file flows/prefect.yaml --all
        ;;
    worker)
        pool="${1:?usage: worker POOL (swx-cpu or swx-gpu)}"
        shift
        final prefect worker start --pool "$pool" --type process "$@"
        ;;
    dashboard)
        final "$PY" -m streamlit run dashboards/app.py --server.headless true --server.address 0.0.0.0 \
            --server.port 8501 --browser.gatherUsageStats false --server.fileWatcherType none \
            --client.toolbarMode viewer "$@"
        ;;
    dask-scheduler)
        final dask scheduler --port 8786 --dashboard-address :8787 "$@"
        ;;
    dask-worker)
        # swx's Dask settings (swx.config.DASK_CONFIG) as a config file Dask reads: without them the
        # nanny's default MALLOC_TRIM_THRESHOLD_ makes a backfill chunk 1.6x slower
        # (an operator's own DASK_CONFIG file or folder is kept beside them)
        if [ "${SWX_ENTRYPOINT_DRY_RUN:-0}" != "1" ]; then
            dask_config="$(mktemp -d)"
            if [ -d "${DASK_CONFIG:-}" ]; then
                find "$DASK_CONFIG" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) \
                    -exec cp {} "$dask_config/" \;
            elif [ -f "${DASK_CONFIG:-}" ]; then
                cp "$DASK_CONFIG" "$dask_config/"
            fi
            "$PY" -c 'import json, sys; from swx.config import dask_config_tree
with open(sys.argv[1], "w") as f: json.dump(dask_config_tree(), f)' "$dask_config/swx.json"
            export DASK_CONFIG="$dask_config"
        fi
        final dask worker "${SWX_DASK_ADDRESS:?SWX_DASK_ADDRESS (tcp://host:8786) is required}" \
            --nworkers "${SWX_DASK_NWORKERS:-1}" --nthreads 1 --dashboard-address :8789 "$@"
        ;;
    swx)
        final "$PY" -m swx.cli "$@"
        ;;
    prefect|python|bash)
        final "$cmd" "$@"
        ;;
    help|-h|--help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        ;;
    *)
        echo "entrypoint: unknown command '$cmd' (try: help)" >&2
        exit 64
        ;;
esac
