from notification_svc.main import main

main()
