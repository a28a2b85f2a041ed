//! Scanners, printers, print jobs, `returnsd ping` and the sync status: their words in
//! zh-CN and en. Part of the one translation table.

/// (code, zh-CN, en)
pub(super) const TABLE: &[(&str, &str, &str)] = &[
    // Devices (the board, the kiosk's status strip, `returnsd devices --live`).
    ("devices.none", "未配置任何设备", "no devices configured"),
    ("device.kind.scanner", "扫描枪", "scanner"),
    ("device.kind.printer", "标签打印机", "label printer"),
    ("device.state.starting", "启动中", "starting"),
    ("device.state.connected", "已连接", "connected"),
    ("device.state.disconnected", "未连接", "disconnected"),
    ("device.state.ok", "正常", "ok"),
    ("device.state.fault", "故障", "fault"),
    (
        "device.state.unknown",
        "状态未知(无应答)",
        "status unknown (no answer)",
    ),
    ("device.state.offline", "离线", "offline"),
    ("device.state.stopped", "已停止", "stopped"),
    ("printer.fault.paper_out", "缺纸", "paper out"),
    ("printer.fault.ribbon_out", "碳带用完", "ribbon out"),
    ("printer.fault.head_open", "打印头打开", "print head open"),
    ("printer.fault.cover_open", "机盖打开", "cover open"),
    ("printer.fault.paper_jam", "卡纸", "paper jam"),
    ("printer.fault.paused", "已暂停", "paused"),
    (
        "printer.fault.buffer_full",
        "接收缓冲区满",
        "receive buffer full",
    ),
    (
        "printer.fault.over_temperature",
        "温度过高",
        "over temperature",
    ),
    (
        "printer.fault.under_temperature",
        "温度过低",
        "under temperature",
    ),
    (
        "printer.fault.directory_missing",
        "输出目录不存在",
        "output directory missing",
    ),
    ("job.state.queued", "排队中", "queued"),
    ("job.state.sent", "已发送(未确认)", "sent (not confirmed)"),
    ("job.state.confirmed", "已打印", "printed"),
    ("job.state.failed", "失败", "failed"),
    // `returnsd ping`.
    ("ping.station", "工作站", "Station"),
    ("ping.epoch", "纪元", "Epoch"),
    ("ping.http", "HTTP 地址", "HTTP address"),
    (
        "ping.tls_fingerprint",
        "证书指纹 (SHA-256)",
        "Certificate fingerprint (SHA-256)",
    ),
    ("ping.no_tls", "无(未启用 TLS)", "none (TLS is off)"),
    (
        "sync.push.disabled",
        "未启用(未配置中心)",
        "disabled (no central configured)",
    ),
    ("sync.push.idle", "空闲", "idle"),
    ("sync.push.sending", "上传中", "sending"),
    (
        "sync.feed.disabled",
        "未启用(未配置中心)",
        "disabled (no central configured)",
    ),
    ("sync.feed.idle", "空闲", "idle"),
    ("sync.feed.backoff", "重试等待中", "backing off"),
    (
        "sync.feed.rejected",
        "中心回复无效,稍后重试",
        "answers refused, retrying slowly",
    ),
    ("sync.push.backoff", "重试等待中", "backing off"),
    ("sync.push.auth_failed", "认证失败", "authentication failed"),
    ("sync.push.rejected", "中心拒收", "rejected by the central"),
    ("sync.push.conflict", "冲突,已停止", "conflict, stopped"),
    (
        "sync.push.moved",
        "数据库已被复制或移动,暂停上传,待确认恢复",
        "database copied or moved: held until a restore is confirmed",
    ),
];
