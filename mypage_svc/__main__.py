from mypage_svc.main import main

main()
