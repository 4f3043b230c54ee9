from yogaclass_svc.main import main

main()
