from yoga_common.migrate import run_env
from yogaclass_svc.storage import metadata

run_env(metadata)
