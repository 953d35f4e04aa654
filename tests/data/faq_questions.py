"""Questions as users type them (typos, filler, dialect particles, English letters), each with the FAQ
entry (faq/questions.toml id) that should answer it and who asks: 'counselor', 'staff' or
'unbound'. None of these sentences is one of the FAQ file's own example questions."""

QUESTIONS = [
    # sms: SMS not received or intercepted
    ("账号创建成功了，但是我一直没收到短信，怎么回事", "sms", "unbound"),
    ("老师说给我开好号了 可是短信一直没来啊", "sms", "unbound"),
    ("验证吗发了好几遍都收不到", "sms", "unbound"),
    ("sms收不到是不是被手机拦截了", "sms", "counselor"),
    ("短信是不是被360当垃圾短信屏蔽了呀", "sms", "unbound"),
    ("咋一直没得短信嘞", "sms", "unbound"),
    ("给辅导员建完账号他说没收到短信怎么办", "sms", "staff"),
    # no_account: 账号不存在
    ("为啥绑定之后还是提示账号不存在", "no_account", "unbound"),
    ("登陆成功了但是显示帐号不存在？？", "no_account", "unbound"),
    ("账号不纯在是什么情况", "no_account", "unbound"),
    ("点进去说查无此账号 咋回事", "no_account", "unbound"),
    ("诶 为什么我的id不存在啊", "no_account", "counselor"),
    # password: wrong or forgotten password
    ("初始密码输进去一直说错误", "password", "unbound"),
    ("密码忘了咋整", "password", "counselor"),
    ("我把mima忘记了能找回吗", "password", "unbound"),
    ("秘码不对登不上去", "password", "unbound"),
    ("password记不住了怎么重置", "password", "staff"),
    ("登录的时候密码老是不正确", "password", "unbound"),
    # phone_taken: phone already registered
    ("添加账号时提示手机号已被注册", "phone_taken", "staff"),
    ("这个手机号已经存在了怎么还能建账号", "phone_taken", "staff"),
    ("收到短信说我的账号已经存在，用哪个密码啊", "phone_taken", "unbound"),
    ("号码被占用了是咋回事", "phone_taken", "staff"),
    ("手机号码重复了 添加不了", "phone_taken", "staff"),
    # too_many: too many attempts
    ("绑定微信的时候提示操作频繁被禁止了怎么办？", "too_many", "unbound"),
    ("验证码发送次数已达上限是啥意思", "too_many", "unbound"),
    ("密码错了好多次被锁定了", "too_many", "unbound"),
    ("说我操作太频繁了要等多久", "too_many", "unbound"),
    ("账号被锁了咋办嘛", "too_many", "counselor"),
    ("验证码输错次数过多了", "too_many", "unbound"),
    # unit_not_found: college or major not found
    ("添加辅导员的时候找不到专业名称", "unit_not_found", "staff"),
    ("专业名称对不上 系统里没有这个专业", "unit_not_found", "staff"),
    ("学院名字不匹配怎么添加", "unit_not_found", "staff"),
    ("专业方向选不到啊", "unit_not_found", "staff"),
    ("我们院系在系统里找不到", "unit_not_found", "staff"),
    ("提示专业不存在，可是我们明明有这个专业", "unit_not_found", "staff"),
    # two_roles: one person, two roles
    ("同一个人既是院系老师又是辅导员，怎么建账号", "two_roles", "staff"),
    ("我既是学院管理员又是辅导员 要两个账号吗", "two_roles", "counselor"),
    ("兼任辅导员的院系老师咋办", "two_roles", "staff"),
    ("一个人可以有两个身份么", "two_roles", "unbound"),
    ("院级账号和辅导员能不能同一个人", "two_roles", "staff"),
    # task_invisible: staff or counselor cannot see a task
    ("学校账号看不到省里派发的任务", "task_invisible", "staff"),
    ("为什么辅导员没收到任务通知", "task_invisible", "staff"),
    ("新建的辅导员看不见之前的task", "task_invisible", "staff"),
    ("我这边任务列表是空的 一个任务都没有", "task_invisible", "counselor"),
    ("上级发的任务我这里不显示", "task_invisible", "counselor"),
    # no_stats: no statistics or wrong counts
    ("我在就业进展里看不到数据", "no_stats", "counselor"),
    ("就业率怎么是0啊", "no_stats", "counselor"),
    ("落实率和我们实际的对不上", "no_stats", "counselor"),
    ("进展里面的人数偏少", "no_stats", "counselor"),
    ("统计数据不准 是不是有问题", "no_stats", "counselor"),
    ("去向统计是空的", "no_stats", "counselor"),
    # few_bindings: few bindings because of 届别
    ("为啥绑定的辅导员那么少", "few_bindings", "staff"),
    ("关注绑定人数太低了是不是届别设置的问题", "few_bindings", "staff"),
    ("新一届的辅导员绑定很少", "few_bindings", "staff"),
    ("触达的人很少是届别的原因吗", "few_bindings", "staff"),
    ("绑定率偏低 届别要不要改", "few_bindings", "staff"),
    # whom_to_ask: whom to ask
    ("有问题找谁啊", "whom_to_ask", "counselor"),
    ("账号的事应该联系谁", "whom_to_ask", "unbound"),
    ("有人工客服吗", "whom_to_ask", "unbound"),
    ("这个平台谁负责 我要反馈问题", "whom_to_ask", "staff"),
    ("咨询一下 哪个部门管账号", "whom_to_ask", "counselor"),
    # how_to_bind: how to log in and bind
    ("怎么绑定啊", "how_to_bind", "unbound"),
    ("辅导员咋登录", "how_to_bind", "unbound"),
    ("请问如何绑定账号", "how_to_bind", "unbound"),
    ("怎么登录这个平台呢", "how_to_bind", "unbound"),
]
