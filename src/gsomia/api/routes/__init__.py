"""The officials' API, one router per concern; each view is one service call and cites its rules."""
