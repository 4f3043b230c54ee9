"""`make chaos`: runs of the chaos harness (chaos/harness.py), each on its own seed, on each
database; the seed and the schedule of each run are printed first, and a failed run is replayed
with `--seed N --runs 1 --backends B` (the same faults at the same moments).

    .venv/bin/python chaos/run.py [--seed N] [--seconds 180] [--runs 5]
        [--backends sqlite,postgres] [--runtime containers|processes]

The services run as the chart runs them, in containers of the image (chaos/containers.py; the
image is built first, scripts/image.sh), or with `--runtime processes` as host processes
(quicker to start, for work on the harness itself).

It starts Keycloak (every token comes from it, as in the bench: KEYCLOAK_PORT and KEYCLOAK_DIR
move it) when it is not running; each run starts a broker, a PostgreSQL cluster and Toxiproxy
of its own. Results and each run's logs and history go to var/chaos/; the summary to
var/chaos/summary.txt. Exits 1 when a run failed."""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import identity  # noqa: E402
from chaos.containers import ContainerRuntime  # noqa: E402
from chaos.harness import Result, run  # noqa: E402
from chaos.runtime import ProcessRuntime, RuntimeFactory  # noqa: E402
from chaos.workload import Settings, Workload  # noqa: E402
from devtools import containers, servers  # noqa: E402

OUT = ROOT / "var" / "chaos"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="the first run's seed")
    parser.add_argument("--seconds", type=float, default=180.0, help="workload per run")
    parser.add_argument("--runs", type=int, default=5, help="seeds per database")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--runtime", choices=("containers", "processes"), default="containers")
    args = parser.parse_args()
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    seeds = [first + k for k in range(args.runs)]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"chaos: seeds {seeds} on {', '.join(backends)}, {args.seconds:.0f}s each", flush=True)
    results: list[Result] = []
    began = time.monotonic()
    make_runtime: RuntimeFactory = ProcessRuntime
    if args.runtime == "containers":
        image = containers.build_image()
        print(f"chaos: image {image[:12]} built in {time.monotonic() - began:.0f}s", flush=True)
        make_runtime = functools.partial(ContainerRuntime, image=image)
    with servers.all_running([identity.PROVIDER]):
        auth = identity.auth()
        identity.sign_in(Workload.members_of(Settings()))
        for seed in seeds:
            for backend in backends:
                result = run(
                    backend,
                    seed,
                    args.seconds,
                    OUT / f"{args.runtime}-{backend}-{seed}",
                    auth,
                    identity.token,
                    make_runtime,
                )
                print(result.text(), flush=True)
                results.append(result)
    summary = "\n".join(r.text() for r in results)
    passed = sum(r.passed for r in results)
    summary += f"\n{passed} of {len(results)} runs passed in {time.monotonic() - began:.0f}s\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.txt").write_text(summary)
    print(summary.splitlines()[-1])
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
