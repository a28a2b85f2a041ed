//! Bin edits and RTV-note closing: the domain's feedback and errors, and the supervisor
//! page's zones and RTV-notes panels, in zh-CN and en. Part of the one translation table
//! (served by `GET /api/v1/i18n`).

/// (code, zh-CN, en)
pub(super) const TABLE: &[(&str, &str, &str)] = &[
    // Feedback (domain/step/supervise.rs).
    ("bin_added", "已新增库位 {bin}", "Bin {bin} added"),
    ("bin_updated", "库位 {bin} 已更新", "Bin {bin} updated"),
    ("bin_retired_ok", "库位 {bin} 已停用", "Bin {bin} retired"),
    (
        "bin_reactivated",
        "库位 {bin} 已重新启用",
        "Bin {bin} reactivated",
    ),
    (
        "rtv_closed",
        "退厂单 {note_no} 已交接({items} 件)",
        "RTV note {note_no} handed over ({items} item(s))",
    ),
    // Errors.
    (
        "bin_retired",
        "库位 {bin} 已停用:不能上架到此库位,请换一个库位",
        "Bin {bin} is retired: put the goods away into another bin",
    ),
    (
        "bin_holds_stock",
        "库位 {bin} 还有 {units} 件库存:先移出,再停用或改类别",
        "Bin {bin} still holds {units} unit(s): move them out before retiring it or changing its class",
    ),
    (
        "bin_already_retired",
        "库位 {bin} 已经停用",
        "Bin {bin} is already retired",
    ),
    (
        "bin_already_active",
        "库位 {bin} 已经在用",
        "Bin {bin} is already active",
    ),
    (
        "unknown_rtv_note",
        "没有退厂单 {note_no}",
        "No RTV note {note_no}",
    ),
    (
        "rtv_note_already_closed",
        "退厂单 {note_no} 已经交接过了",
        "RTV note {note_no} was already handed over",
    ),
    // The supervisor page: zones panel.
    ("zn.bins", "库位", "Bins"),
    ("zn.code", "库位编码", "Code"),
    ("zn.class", "类别", "Class"),
    ("zn.class.good", "良品", "Good"),
    ("zn.class.defect", "不良品", "Defect"),
    ("zn.label", "名称(可选)", "Label (optional)"),
    ("zn.units", "件数", "Units"),
    ("zn.state", "状态", "State"),
    ("zn.active", "在用", "Active"),
    ("zn.retired", "已停用", "Retired"),
    ("zn.source.config", "配置", "config"),
    ("zn.source.edited", "已编辑", "edited"),
    ("zn.save", "保存库位", "Save bin"),
    ("zn.edit", "编辑", "Edit"),
    ("zn.retire", "停用", "Retire"),
    ("zn.reactivate", "启用", "Reactivate"),
    ("zn.no_bins", "没有库位", "No bins"),
    (
        "zn.bad_code",
        "库位编码 {code} 无效:请用 1 到 16 位 A-Z 0-9 -",
        "Bin code {code} is not valid: use 1 to 16 of A-Z 0-9 -",
    ),
    (
        "zn.retire_confirm",
        "确认停用库位 {bin}?停用后不能再上架到此库位。",
        "Retire bin {bin}? Nothing can be put away into it afterwards.",
    ),
    (
        "zn.reactivate_confirm",
        "确认重新启用库位 {bin}?",
        "Reactivate bin {bin}?",
    ),
    // The supervisor page: RTV notes panel.
    ("zn.notes", "退厂单列表", "RTV notes"),
    ("zn.no_notes", "还没有退厂单", "No RTV notes yet"),
    ("zn.note.open", "待交接", "open"),
    ("zn.note.closed", "已交接", "handed over"),
    (
        "zn.created",
        "{vendor} · {items} 件 · {at} {by} 建立",
        "{vendor} · {items} item(s) · created {at} by {by}",
    ),
    (
        "zn.closed_by",
        "{at} {by} 交接 {waybill} {note}",
        "Handed over {at} by {by} {waybill} {note}",
    ),
    ("zn.close", "交接", "Hand over"),
    (
        "zn.waybill",
        "承运运单号(可选)",
        "Carrier waybill (optional)",
    ),
    ("zn.close_note", "备注(可选)", "Note (optional)"),
    (
        "zn.close_confirm",
        "确认退厂单 {note_no} 的货物已交给供应商或承运商?",
        "Confirm the goods of {note_no} were handed to the vendor or carrier?",
    ),
    ("zn.since", "入区 {at}", "since {at}"),
];
