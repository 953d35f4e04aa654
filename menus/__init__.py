"""The WeChat menus as data, their validation and push (SPEC 7)."""
