"""mypage_svc: arrives with the events issue (DESIGN.md §4)."""
