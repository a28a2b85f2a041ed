//! The supervisor's page (`GET /supervisor`): its static words, in zh-CN and en.
//! Part of the one translation table (served by `GET /api/v1/i18n`).

/// (code, zh-CN, en)
pub(super) const TABLE: &[(&str, &str, &str)] = &[
    ("sv.title", "主管工作台", "Supervisor"),
    (
        "sv.denied",
        "{badge} 不是主管:此页面仅限主管使用",
        "{badge} is not a supervisor: this page is for supervisors only",
    ),
    ("sv.stock", "各库区库存", "Stock per zone"),
    ("sv.zone", "库区", "Zone"),
    ("sv.sku", "SKU", "SKU"),
    ("sv.qty", "数量", "Qty"),
    ("sv.no_stock", "暂无库存", "No stock"),
    ("sv.rtv", "退厂单", "Return-to-vendor note"),
    (
        "sv.rtv_items",
        "不良区商品(选择要退厂的)",
        "Items in the defect zone (select those to return)",
    ),
    (
        "sv.no_defects",
        "不良区没有商品",
        "Nothing in the defect zone",
    ),
    ("sv.vendor", "供应商", "Vendor"),
    ("sv.create_rtv", "建立退厂单", "Create note"),
    (
        "sv.need_items",
        "请至少选择一件商品",
        "Select at least one item",
    ),
    ("sv.need_vendor", "请填写供应商", "Enter the vendor"),
    ("sv.note_no", "退厂单号:{note_no}", "Note number: {note_no}"),
    ("sv.job_state", "打印:{state}", "Printing: {state}"),
    (
        "sv.job_none",
        "打印:等待任务",
        "Printing: waiting for the job",
    ),
    ("sv.reprint", "补打标签", "Reprint label"),
    ("sv.void", "作废退件", "Void a return"),
    ("sv.return_id", "退件号", "Return id"),
    ("sv.reason", "原因(必填)", "Reason (required)"),
    ("sv.need_reason", "请填写原因", "Enter a reason"),
    (
        "sv.bad_return",
        "退件号格式不对:{code}",
        "Not a return id: {code}",
    ),
    ("sv.void_ask", "作废…", "Void…"),
    (
        "sv.void_confirm",
        "确定作废 {return_id}?原因:{reason}。此操作不能撤销",
        "Void {return_id}? Reason: {reason}. This cannot be undone",
    ),
    ("sv.confirm", "确认作废", "Confirm void"),
    ("sv.cancel", "取消", "Cancel"),
    ("sv.refresh", "刷新", "Refresh"),
    ("sv.sync", "与总部同步", "Sync with the central"),
    (
        "sv.photo_blocked",
        "照片 {sha256}…{photo_problem},无法上传:seq {seq} 起的事件暂停同步。若照片确已丢失,请填写原因并确认丢失",
        "Photo {sha256}… is {photo_problem} and cannot be uploaded: events from seq {seq} are held. If it is lost for good, give the reason and acknowledge the loss",
    ),
    ("sv.photo_lost_ack", "确认照片丢失", "Acknowledge the loss"),
    ("sv.loading", "加载中…", "Loading…"),
    ("zone.vendor", "已退厂", "Returned to vendor"),
    ("zone.customer", "已发回客户", "Sent to the customer"),
    (
        "zone.sellable",
        "已退库入可售库存",
        "Back in sellable stock",
    ),
    ("kiosk.supervisor_link", "主管工作台", "Supervisor page"),
];
