from notification_svc.storage import metadata
from yoga_common.migrate import run_env

run_env(metadata)
