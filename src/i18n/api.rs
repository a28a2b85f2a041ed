//! Messages of the HTTP API (error codes `api.*`) and of the alarms it lists (`alarm.*`),
//! in zh-CN and en. Part of the one translation table (`i18n::template` looks here too).

/// (code, zh-CN, en)
pub(super) const TABLE: &[(&str, &str, &str)] = &[
    ("api.unauthorized", "请先登录", "Please log in"),
    (
        "api.session_expired",
        "登录已超时,请重新登录",
        "Session expired: please log in again",
    ),
    (
        "api.bad_credentials",
        "工号或密码错误",
        "Wrong badge or PIN",
    ),
    (
        "api.locked_out",
        "错误次数过多,工号 {badge} 已锁定,请 {minutes} 分钟后再试",
        "Too many wrong PINs: badge {badge} is locked, try again in {minutes} min",
    ),
    (
        "api.forbidden_role",
        "您的角色({role})不能执行此操作",
        "Your role ({role}) may not do this",
    ),
    (
        "api.csrf",
        "缺少或错误的 CSRF 令牌",
        "Missing or wrong CSRF token",
    ),
    (
        "api.cross_origin",
        "拒绝跨站请求",
        "Cross-origin request refused",
    ),
    (
        "api.bad_json",
        "JSON 格式错误:{detail}",
        "Malformed JSON: {detail}",
    ),
    (
        "api.bad_request",
        "请求有误:{detail}",
        "Bad request: {detail}",
    ),
    (
        "api.unsupported_media_type",
        "请求内容类型必须是 application/json",
        "Content-Type must be application/json",
    ),
    (
        "api.payload_too_large",
        "请求内容过大(上限 {limit} 字节)",
        "Request body too large (limit {limit} bytes)",
    ),
    (
        "api.unsupported_image",
        "请上传 JPEG、PNG 或 WebP 图片(Content-Type 须与内容一致)",
        "Upload a JPEG, PNG or WebP image (Content-Type must match its content)",
    ),
    (
        "api.bad_image",
        "图片文件已损坏:{detail}",
        "The image file is damaged: {detail}",
    ),
    ("api.bad_id", "编号格式错误:{id}", "Malformed id: {id}"),
    (
        "api.login_required",
        "看板免登录仅限工作台电脑本机(http://127.0.0.1/kiosk),其他设备请先登录",
        "The kiosk is open without login only on the bench PC itself (http://127.0.0.1/kiosk); elsewhere please log in",
    ),
    (
        "api.bad_bench",
        "工作台名称只能包含字母、数字和 - _ .(最多 64 个字符)",
        "A bench name is letters, digits, - _ . (at most 64)",
    ),
    ("api.not_found", "未找到", "Not found"),
    (
        "api.method_not_allowed",
        "不支持此请求方法",
        "Method not allowed",
    ),
    (
        "api.timeout",
        "请求超时,请重试",
        "The request timed out; please retry",
    ),
    (
        "api.busy",
        "工作站繁忙,请稍后重试",
        "The station is busy; please retry shortly",
    ),
    (
        "api.idempotency_key_reused",
        "此幂等键已用于另一个请求",
        "This Idempotency-Key was used for a different request",
    ),
    (
        "api.idempotency_in_progress",
        "相同请求正在处理中,请稍后重试",
        "The same request is still being processed; retry shortly",
    ),
    (
        "api.bad_idempotency_key",
        "幂等键格式错误",
        "Malformed Idempotency-Key",
    ),
    ("api.internal", "工作站内部错误", "Internal station error"),
    ("api.not_saved", "未保存:{reason}", "NOT SAVED: {reason}"),
    ("api.logged_out", "已退出登录", "Logged out"),
    (
        "alarm.device",
        "设备 {device} 异常:{state}",
        "Device {device}: {state}",
    ),
    (
        "alarm.sync_push",
        "同步推送状态:{state}",
        "Sync push is {state}",
    ),
    (
        "alarm.sync_photo_blocked",
        "照片 {sha256}…{photo_problem},无法上传:seq {seq} 起的事件暂停同步。若照片确已丢失,主管可确认丢失:{command}",
        "Photo {sha256}… is {photo_problem} and cannot be uploaded: events from seq {seq} are held. If it is lost for good, a supervisor acknowledges it: {command}",
    ),
    ("photo_problem.missing", "已不在照片库中", "missing"),
    ("photo_problem.damaged", "已损坏(校验不符)", "damaged"),
    ("photo_problem.unreadable", "读取失败", "unreadable"),
    (
        "alarm.disk_high_water",
        "磁盘空间即将用尽",
        "Disk space is running low",
    ),
    (
        "alarm.disk_full",
        "已达到工作站的磁盘上限,停止接收新扫描",
        "The station's disk cap is reached: new scans are refused",
    ),
    (
        "alarm.fs_full",
        "存放数据的磁盘已满(剩余 {free}),停止接收新扫描",
        "The disk holding the station's data is full ({free} free): new scans are refused",
    ),
    (
        "alarm.storage_fault",
        "磁盘出错,工作站已暂停写入:{detail}",
        "Disk error, the station has stopped writing: {detail}",
    ),
    (
        "alarm.clock_offset",
        "工作站时钟偏差 {offset_ms} 毫秒",
        "Station clock is off by {offset_ms} ms",
    ),
    (
        "alarm.print_failed",
        "打印任务 {job} 失败",
        "Print job {job} failed",
    ),
    (
        "alarm.print_stuck",
        "打印任务 {job} 未能打印",
        "Print job {job} is not printing",
    ),
];
