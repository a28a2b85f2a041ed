//! Translation tables: every operator-facing text in zh-CN and en, keyed by the stable
//! codes the domain and the engine return. Templates use `{name}` placeholders filled from
//! the code's parameters. No operator-facing string lives anywhere else.

mod api;
mod devices;
mod handheld;
mod kiosk;
mod qc;
mod supervisor;
mod zones;

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Lang {
        if s.starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (code, zh-CN, en)
const TABLE: &[(&str, &str, &str)] = &[
    // Feedback on accepted scans and commands.
    (
        "logged_in",
        "已登录:{badge}({role})",
        "Logged in: {badge} ({role})",
    ),
    ("logged_out", "已退出:{badge}", "Logged out: {badge}"),
    (
        "bench_sessions_ended",
        "已结束操作台登录:{benches}",
        "Bench logins ended: {benches}",
    ),
    (
        "badge_unlocked",
        "工号 {badge} 已解锁,可以重新登录",
        "Badge {badge} unlocked: it may log in again",
    ),
    (
        "photo_lost_recorded",
        "已确认照片 {sha256} 丢失:引用它的事件将标记为“照片丢失”上传",
        "Photo {sha256} acknowledged as lost: the events that reference it are sent with it marked lost",
    ),
    (
        "lockout_recorded",
        "已记录:工号 {badge} 因多次密码错误被锁定",
        "Recorded: badge {badge} locked after repeated wrong PINs",
    ),
    (
        "received",
        "已签收 {return_id}:{kind},订单 {order_no},预期 {expected} 件。请扫描“拆包”",
        "Received {return_id}: {kind}, order {order_no}, {expected} item(s) expected. Scan UNPACK",
    ),
    (
        "received_unannounced",
        "已签收 {return_id}:退货记录中没有此运单(未预报)。请扫描退件类型",
        "Received {return_id}: not in the returns log (unannounced). Scan the kind",
    ),
    (
        "selected",
        "当前退件 {return_id}({stage})",
        "Current return {return_id} ({stage})",
    ),
    (
        "kind_set",
        "{return_id} 类型:{kind}。请扫描“拆包”",
        "{return_id} kind: {kind}. Scan UNPACK",
    ),
    (
        "visual_recorded",
        "外观结果已记录:{visual}",
        "Visual result recorded: {visual}",
    ),
    (
        "card_present",
        "已记录:有售后服务卡",
        "Recorded: after-sales card present",
    ),
    (
        "card_missing",
        "已记录:无售后服务卡(转客服联系客户)",
        "Recorded: no after-sales card (customer service will contact the customer)",
    ),
    (
        "unpacked",
        "已拆包,正在打印标签 {return_id}。请逐件扫描商品",
        "Unpacked; printing label {return_id}. Scan each item",
    ),
    (
        "item_counted",
        "{sku}:{counted}/{expected}",
        "{sku}: {counted}/{expected}",
    ),
    (
        "item_over",
        "多件!{sku}:{counted}/{expected}",
        "Over! {sku}: {counted}/{expected}",
    ),
    (
        "item_unknown",
        "不在退货记录中的商品:{sku}",
        "Item not on the returns log: {sku}",
    ),
    (
        "item_unannounced",
        "已计数 {sku}(未预报退件)",
        "Counted {sku} (unannounced parcel)",
    ),
    (
        "first_check_done",
        "一次检验完成:{return_id},{items} 件入待处理区,异常 {exceptions} 项",
        "First check done: {return_id}, {items} item(s) booked into pending, {exceptions} exception(s)",
    ),
    (
        "item_voided",
        "已撤销上一次扫描:{sku}(第 {item_no} 件)",
        "Last scan voided: {sku} (item {item_no})",
    ),
    (
        "reprinted",
        "正在补打标签 {return_id}",
        "Reprinting label {return_id}",
    ),
    (
        "cancelled",
        "已放下当前退件 {return_id}",
        "Put current return aside: {return_id}",
    ),
    (
        "inspected",
        "{return_id}:{items} 件判定为 {grade}",
        "{return_id}: {items} item(s) graded {grade}",
    ),
    (
        "put_away",
        "{return_id}:{items} 件已上架到 {zone}",
        "{return_id}: {items} item(s) put away to {zone}",
    ),
    (
        "exchange_shipped",
        "{return_id}:换货已发出({items} 件)",
        "{return_id}: exchange shipped ({items} item(s))",
    ),
    (
        "restocked",
        "{return_id}:{items} 件良品转入可售库存",
        "{return_id}: {items} good item(s) released to stock",
    ),
    (
        "rtv_created",
        "退厂单 {note_no} 已建立,{items} 件",
        "Return-to-vendor note {note_no} created, {items} item(s)",
    ),
    (
        "voided",
        "退件 {return_id} 已作废",
        "Return {return_id} voided",
    ),
    // Engine-level outcomes.
    ("double_read", "重复读取已忽略", "Double read ignored"),
    (
        "storage_error",
        "数据库写入失败,请重扫并通知主管",
        "The database write failed; scan again and tell a supervisor",
    ),
    (
        "storage_full",
        "存放数据的磁盘已满,工作站暂停接收,请通知主管",
        "The disk holding the station's data is full; the station has stopped accepting work. Tell a supervisor",
    ),
    (
        "storage_cap",
        "已达到工作站的磁盘上限,暂停接收,请通知主管",
        "The station's disk cap is reached; it has stopped accepting work. Tell a supervisor",
    ),
    (
        "storage_fault",
        "磁盘出错后工作站已暂停写入,正在检查磁盘;请通知主管",
        "The station stopped writing after a disk error and is checking the disk. Tell a supervisor",
    ),
    (
        "engine_stopped",
        "工作站正在停止",
        "The station is shutting down",
    ),
    (
        "cli.unknown",
        "工作站未确认此请求(可能已记录,也可能没有):重扫前请先查看(returnsd returns list 或看板)。{why}",
        "The station did not confirm this request (it may or may not be recorded): check before scanning again (returnsd returns list, or the kiosk). {why}",
    ),
    (
        "cli.replayed",
        "此前已记录,未重复记录",
        "recorded before; not recorded again",
    ),
    // `sync status` (src/cli/render.rs): each line's label, then its value.
    ("cli.sync.epoch", "纪元", "epoch"),
    ("cli.sync.epoch.value", "{epoch}", "{epoch}"),
    ("cli.sync.journal", "日志", "journal"),
    (
        "cli.sync.journal.value",
        "最后序号 {last},中心已确认至 {acked}",
        "last seq {last}, acked through {acked}",
    ),
    ("cli.sync.backlog", "待上传", "backlog"),
    (
        "cli.sync.backlog.value",
        "{events} 条事件,最早未确认的已 {age} 秒",
        "{events} events, oldest unacked {age} s old",
    ),
    ("cli.sync.push", "上传", "push"),
    (
        "cli.sync.push.value",
        "{state}(上次成功 {at},每批上限 {limit})",
        "{state} (last success {at}, batch limit {limit})",
    ),
    ("cli.sync.push_error", "  上次错误", "  last error"),
    (
        "cli.sync.push_error.value",
        "{error}({at})",
        "{error} at {at}",
    ),
    ("cli.sync.next_retry", "  下次重试", "  next retry"),
    ("cli.sync.next_retry.value", "{at}", "{at}"),
    ("cli.sync.alarm", "  警报", "  ALARM"),
    ("cli.sync.alarm.value", "{alarm}", "{alarm}"),
    ("cli.sync.feed", "下载", "feed"),
    (
        "cli.sync.feed.value",
        "{state}(游标 {cursor},上次成功 {at},已拒收 {rejected} 条)",
        "{state} (cursor {cursor}, last success {at}, rejected items {rejected})",
    ),
    ("cli.sync.feed_error", "  上次错误", "  last error"),
    ("cli.sync.feed_error.value", "{error}", "{error}"),
    ("cli.sync.rejected", "  已拒收", "  rejected"),
    (
        "cli.sync.rejected.value",
        "{what}({source},{at}):{reason}",
        "{what} ({source}, {at}): {reason}",
    ),
    ("cli.sync.a_line", "一行", "a line"),
    ("cli.sync.disk", "磁盘", "disk"),
    (
        "cli.sync.disk.value",
        "已用 {used},上限 {cap}{state},已清理 {pruned} 条事件",
        "{used} of {cap}{state}, {pruned} events pruned",
    ),
    (
        "cli.sync.disk_fs_full",
        "  已满:状态目录所在的文件系统已满(剩余 {free}):拒绝新工作",
        "  FULL: the filesystem holding the state directory is full ({free} free): new work refused",
    ),
    (
        "cli.sync.disk_cap_full",
        "  已满:已达到工作站的磁盘上限:拒绝新工作",
        "  FULL: the station's disk cap is reached: new work refused",
    ),
    (
        "cli.sync.disk_high",
        "  超过警戒线",
        "  above high-water mark",
    ),
    ("cli.sync.storage_fault", "  存储故障", "  STORAGE FAULT"),
    ("cli.sync.clock", "时钟偏差", "clock offset"),
    ("cli.sync.clock.value", "{ms} 毫秒{alarm}", "{ms} ms{alarm}"),
    (
        "cli.sync.clock_alarm",
        "  警报:超过上限",
        "  ALARM: over the limit",
    ),
    // `journal verify` / `journal rebuild` and `manifest import` (src/cli/render.rs).
    (
        "cli.verify.journal",
        "日志:{events} 条事件,序号 {first}..{last}",
        "journal: {events} events, seq {first}..{last}",
    ),
    (
        "cli.verify.pruned",
        "序号 1..{through} 已在中心确认后按保留期清理",
        "seq 1..{through} pruned after the central acknowledged them (retention)",
    ),
    ("cli.verify.contiguous", "序号:连续", "seq: contiguous"),
    (
        "cli.verify.gap",
        "缺口:序号 {from}..{to} 缺失",
        "GAP: seq {from}..{to} missing",
    ),
    (
        "cli.verify.order",
        "注意:序号 {seq} 的时间早于序号 {before}(时钟曾被调回)",
        "note: seq {seq} is stamped earlier than seq {before} (the clock was set back)",
    ),
    (
        "cli.verify.unreadable",
        "无法读取:序号 {seq}:{error}",
        "UNREADABLE: seq {seq}: {error}",
    ),
    (
        "cli.verify.mismatch",
        "不一致:退件 {return_id}:投影与日志重建不同",
        "MISMATCH: return {return_id}: projection differs from the journal's rebuild",
    ),
    (
        "cli.verify.ledger.ok",
        "库存账:与重建一致",
        "ledger: balances with the rebuild",
    ),
    (
        "cli.verify.ledger.bad",
        "库存账:与重建不一致",
        "ledger: DIFFERS from the rebuild",
    ),
    (
        "cli.verify.benches.ok",
        "工作台:与重建一致",
        "benches: match the rebuild",
    ),
    (
        "cli.verify.benches.bad",
        "工作台:与重建不一致",
        "benches: DIFFER from the rebuild",
    ),
    (
        "cli.verify.supervision.ok",
        "库位与退厂单:与重建一致",
        "bins and RTV notes: match the rebuild",
    ),
    (
        "cli.verify.supervision.bad",
        "库位与退厂单:与重建不一致",
        "bins and RTV notes: DIFFER from the rebuild",
    ),
    (
        "cli.import.report",
        "{file}:已保存 {stored},已删除 {deleted},未变(版本相同或更旧){stale},拒收 {rejected}",
        "{file}: {stored} stored, {deleted} deleted, {stale} unchanged (same or older version), {rejected} rejected",
    ),
    (
        "cli.import.rejected",
        "第 {line} 行被拒收:{why}",
        "line {line}: rejected: {why}",
    ),
    // `returns list` and `returns show` (src/cli/render.rs).
    ("cli.col.return_id", "退件号", "return"),
    ("cli.col.waybill", "运单号", "waybill"),
    ("cli.col.kind", "类型", "kind"),
    ("cli.col.stage", "阶段", "stage"),
    ("cli.col.customer", "客户", "customer"),
    ("cli.col.items", "件数", "items"),
    ("cli.col.received", "签收时间", "received"),
    ("cli.col.zone", "库区", "zone"),
    ("cli.col.sku", "SKU", "sku"),
    ("cli.col.qty", "数量", "qty"),
    ("cli.show.order", "订单", "order"),
    ("cli.show.received_by", "签收人", "by"),
    ("cli.show.refund_due_by", "退款截止", "refund due by"),
    (
        "cli.show.exchange_ship_by",
        "换货发出截止",
        "exchange ship by",
    ),
    ("cli.show.items", "商品", "items"),
    ("cli.show.zone", "库区", "zone"),
    ("cli.show.grade", "等级", "grade"),
    ("cli.show.defects", "缺陷", "defects"),
    ("cli.show.events", "事件", "events"),
    // Domain errors.
    (
        "login_required",
        "请先扫描工牌登录",
        "Scan your badge first",
    ),
    (
        "unknown_operator",
        "未知工牌 {badge}",
        "Unknown badge {badge}",
    ),
    (
        "role_not_allowed",
        "角色 {role} 无权执行 {action}",
        "Role {role} may not {action}",
    ),
    // The actions a role check names (`role_not_allowed`'s `{action}`).
    ("action.inspect", "二次质检", "grade items"),
    (
        "action.exchange_shipped",
        "登记换货发出",
        "record an exchange shipped",
    ),
    ("action.restock", "上架入可售库存", "restock"),
    (
        "action.rtv_note",
        "开退厂单",
        "create a return-to-vendor note",
    ),
    ("action.reprint", "补打标签", "reprint a label"),
    ("action.void", "作废退货单", "void a return"),
    ("action.edit_zones", "编辑库区", "edit zones"),
    ("action.unlock_badge", "解锁工号", "unlock a badge"),
    (
        "action.photo_lost",
        "确认照片丢失",
        "acknowledge a lost photo",
    ),
    (
        "action.close_rtv_note",
        "关闭退厂单",
        "close a return-to-vendor note",
    ),
    (
        "return_in_progress",
        "当前退件 {return_id} 尚未完成:请扫描“完成”或“取消”",
        "Return {return_id} is not finished: scan DONE or CANCEL first",
    ),
    (
        "no_current_return",
        "当前没有退件:请先扫描运单号或退件标签",
        "No current return: scan a waybill or a return label first",
    ),
    (
        "at_other_bench",
        "退件 {return_id} 正在 {bench} 处理中",
        "Return {return_id} is open at {bench}",
    ),
    (
        "unknown_return",
        "找不到退件 {return_id}",
        "No such return {return_id}",
    ),
    (
        "unknown_waybill",
        "找不到运单 {waybill}",
        "No such waybill {waybill}",
    ),
    (
        "return_terminal",
        "退件 {return_id} 已结束({stage}),不能再操作",
        "Return {return_id} is finished ({stage}); nothing more can be done to it",
    ),
    (
        "kind_required",
        "请先扫描退件类型(自退件/在途退件/拒收件)",
        "Scan the kind first (customer return / carrier return / refused)",
    ),
    (
        "kind_already_set",
        "退件类型已确定",
        "The kind is already set",
    ),
    ("not_unpacked", "请先扫描“拆包”", "Scan UNPACK first"),
    ("already_unpacked", "已经拆包", "Already unpacked"),
    (
        "already_first_checked",
        "一次检验已完成",
        "First check is already done",
    ),
    ("no_items", "还没有扫描任何商品", "No items scanned yet"),
    (
        "first_check_goes_to_pending",
        "一次检验只能入待处理区:请扫描 Z-PENDING 或“完成”",
        "First check books into pending: scan Z-PENDING or DONE",
    ),
    ("nothing_to_void", "没有可撤销的扫描", "Nothing to void"),
    (
        "not_first_checked",
        "退件 {return_id} 尚未完成一次检验",
        "Return {return_id} has not had its first check",
    ),
    (
        "item_not_found",
        "退件 {return_id} 没有第 {item_no} 件",
        "Return {return_id} has no item {item_no}",
    ),
    (
        "item_already_inspected",
        "第 {item_no} 件已检验",
        "Item {item_no} is already inspected",
    ),
    (
        "item_not_inspected",
        "第 {item_no} 件尚未检验",
        "Item {item_no} is not inspected yet",
    ),
    (
        "nothing_to_inspect",
        "没有待检验的商品",
        "Nothing left to inspect",
    ),
    (
        "defect_needs_reason",
        "不良品需要至少一个不良因素",
        "A defect needs at least one defect reason",
    ),
    (
        "reasons_only_for_defects",
        "良品不能带不良因素",
        "Defect reasons are only for defects",
    ),
    (
        "unknown_defect_reason",
        "未知不良因素 {code}",
        "Unknown defect reason {code}",
    ),
    (
        "photo_required",
        "不良品需要拍照留证",
        "A defect needs a photo as evidence",
    ),
    (
        "same_person",
        "二次检验必须由另一人完成",
        "The second inspection must be done by someone else",
    ),
    (
        "wrong_zone_for_grade",
        "第 {item_no} 件不能放入 {zone}",
        "Item {item_no} cannot go to {zone}",
    ),
    ("unknown_bin", "未配置的库位 {bin}", "Unknown bin {bin}"),
    (
        "item_not_in_zone",
        "第 {item_no} 件不在 {zone}",
        "Item {item_no} is not in {zone}",
    ),
    ("nothing_to_move", "没有可移动的商品", "Nothing to move"),
    (
        "void_after_booking",
        "已入账的退件不能作废:请用上架/退厂处理",
        "A booked-in return cannot be voided: use put-away or return-to-vendor",
    ),
    (
        "photo_not_waiting",
        "没有待上传的事件引用照片 {sha256}:无需确认丢失",
        "No event waiting for the central references photo {sha256}: there is no loss to acknowledge",
    ),
    (
        "photo_already_lost",
        "照片 {sha256} 已确认丢失(seq {seq})",
        "Photo {sha256} was already acknowledged as lost (seq {seq})",
    ),
    ("reason_required", "请填写原因", "A reason is required"),
    (
        "bad_input",
        "输入有误:{field} {problem}",
        "Bad input: {field} {problem}",
    ),
    (
        "not_now",
        "现在不能扫这个",
        "That code means nothing at this step",
    ),
    // Scan rejections.
    ("scan.empty", "空白扫描", "Empty scan"),
    (
        "scan.too_long",
        "条码太长({len} 字节,最多 {max})",
        "Code too long ({len} bytes, at most {max})",
    ),
    (
        "scan.invalid_utf8",
        "条码含无效字符(第 {at} 字节)",
        "Code has invalid bytes (at byte {at})",
    ),
    (
        "scan.control_char",
        "条码含控制字符(第 {at} 位)",
        "Code has a control character (at {at})",
    ),
    (
        "scan.bad_check_digit",
        "校验位错误:{code}",
        "Bad check digit: {code}",
    ),
    (
        "scan.bad_gs1",
        "GS1 条码格式错误:{reason}",
        "Malformed GS1 code: {reason}",
    ),
    (
        "scan.bad_id",
        "标签格式错误:{reason}",
        "Malformed label code: {reason}",
    ),
    ("scan.unknown", "无法识别的条码", "Unrecognised code"),
    ("kind.customer_return", "自退件", "customer return"),
    ("kind.carrier_return", "在途退件", "carrier return"),
    ("kind.refused", "拒收件", "refused parcel"),
    ("grade.good", "良品", "good"),
    ("grade.defect", "不良品", "defect"),
    ("visual.ok", "外观完好", "OK"),
    ("visual.damaged", "外观破损", "damaged"),
    ("visual.missing_parts", "缺少配件", "missing parts"),
    ("visual.not_recorded", "未记录", "not recorded"),
    ("stage.received", "已签收", "received"),
    ("stage.unpacked", "已拆包", "unpacked"),
    ("stage.first_checked", "待二次检验", "first-checked"),
    ("stage.inspected", "已检验", "inspected"),
    ("stage.put_away", "已上架", "put away"),
    ("stage.closed", "已结案", "closed"),
    ("stage.voided", "已作废", "voided"),
    ("role.keeper", "仓管员", "keeper"),
    ("role.inspector", "质检员", "inspector"),
    ("role.supervisor", "主管", "supervisor"),
    // Command sheet titles.
    (
        "sheet.title",
        "退货工作台命令条码",
        "Returns bench command codes",
    ),
    ("sheet.badges_title", "操作员工牌", "Operator badges"),
    ("sheet.bins_title", "库位标签", "Bin labels"),
    (
        "sheet.badge",
        "工牌 {badge} · {roles}",
        "Badge {badge} · {roles}",
    ),
    ("sheet.bin", "{zone} · 库位 {bin}", "{zone} · bin {bin}"),
    (
        "sheet.page",
        "{title}(第 {page}/{pages} 页)",
        "{title} (page {page} of {pages})",
    ),
    (
        "sheet.empty",
        "没有可打印的条码:请在配置中添加 [[operators]] 或 [[zones.bins]]",
        "nothing to print: the config has no [[operators]] or [[zones.bins]] for this sheet",
    ),
    ("cmd.unpack", "拆包并打印标签", "Unpack and print label"),
    (
        "cmd.done",
        "完成一次检验(入待处理区)",
        "First check done (into pending)",
    ),
    ("cmd.void", "撤销上一次扫描", "Void last scan"),
    ("cmd.reprint", "补打标签", "Reprint label"),
    ("cmd.cancel", "放下当前退件", "Put current return aside"),
    ("cmd.logout", "退出登录", "Log out"),
    ("cmd.kind_customer", "自退件", "Customer return"),
    ("cmd.kind_carrier", "在途退件", "Carrier return"),
    ("cmd.kind_refused", "拒收件", "Refused parcel"),
    ("cmd.visual_ok", "外观完好", "Visual: OK"),
    ("cmd.visual_damaged", "外观破损", "Visual: damaged"),
    (
        "cmd.visual_missing_parts",
        "缺少配件",
        "Visual: missing parts",
    ),
    (
        "cmd.card_present",
        "有售后服务卡",
        "After-sales card present",
    ),
    ("cmd.card_missing", "无售后服务卡", "No after-sales card"),
    ("zone.pending", "待处理区", "Pending zone"),
    ("zone.good", "良品区", "Good zone"),
    ("zone.defect", "不良区", "Defect zone"),
];

/// Every entry of the one table, kept in one file per area.
fn entries() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TABLE
        .iter()
        .chain(api::TABLE)
        .chain(devices::TABLE)
        .chain(handheld::TABLE)
        .chain(kiosk::TABLE)
        .chain(qc::TABLE)
        .chain(supervisor::TABLE)
        .chain(zones::TABLE)
}

/// Look up a template; unknown codes fall back to the code itself so nothing is hidden.
pub fn template(lang: Lang, code: &str) -> Option<&'static str> {
    entries()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

/// Render a message for `code` with its parameters.
pub fn message(lang: Lang, code: &str, params: &[(&str, String)]) -> String {
    let Some(t) = template(lang, code) else {
        let mut s = code.to_string();
        for (k, v) in params {
            s.push_str(&format!(" {k}={v}"));
        }
        return s;
    };
    let mut out = t.to_string();
    for (k, v) in params {
        let value = if [
            "kind",
            "grade",
            "visual",
            "stage",
            "role",
            "action",
            "photo_problem",
        ]
        .contains(k)
        {
            template(lang, &format!("{k}.{v}"))
                .map(str::to_string)
                .unwrap_or(v.clone())
        } else if *k == "zone" {
            zone_names(lang, v)
        } else {
            v.clone()
        };
        out = out.replace(&format!("{{{k}}}"), &value);
    }
    out
}

/// Ledger zone names (`good`, `defect/D01`, several joined by commas) in `lang`: the
/// zone's name from the table, then its bin (`不良区 D01`, `Defect zone D01`).
pub fn zone_names(lang: Lang, zones: &str) -> String {
    let names: Vec<String> = zones
        .split(',')
        .map(|z| {
            let (class, bin) = z.split_once('/').unwrap_or((z, ""));
            let name = template(lang, &format!("zone.{class}")).unwrap_or(class);
            if bin.is_empty() {
                name.to_string()
            } else {
                format!("{name} {bin}")
            }
        })
        .collect();
    names.join(if lang == Lang::Zh { "、" } else { ", " })
}

/// Every string of the table in `lang`, for pages (`GET /api/v1/i18n`): the page's own
/// words (`kiosk.*`, `hh.*`), the domain's (kinds, stages, device states…) and the API's
/// errors (`api.*`).
pub fn all(lang: Lang) -> impl Iterator<Item = (&'static str, &'static str)> {
    entries().map(move |(c, zh, en)| match lang {
        Lang::Zh => (*c, *zh),
        Lang::En => (*c, *en),
    })
}

/// Every code in the table (tests check both languages are filled and placeholders match).
pub fn codes() -> impl Iterator<Item = &'static str> {
    entries().map(|(c, _, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both languages carry the same placeholders for every code, and none is empty.
    #[test]
    fn both_languages_have_the_same_placeholders() {
        let re = regex::Regex::new(r"\{[a-z_]+\}").unwrap();
        for (code, zh, en) in entries() {
            assert!(!zh.is_empty() && !en.is_empty(), "{code}");
            let mut a: Vec<_> = re.find_iter(zh).map(|m| m.as_str()).collect();
            let mut b: Vec<_> = re.find_iter(en).map(|m| m.as_str()).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "placeholders differ for {code}");
        }
    }

    /// Enum values in messages are shown in the operator's language.
    #[test]
    fn enum_parameters_are_translated() {
        let p = [
            ("return_id", "R-1".to_string()),
            ("items", "1".to_string()),
            ("grade", "good".to_string()),
        ];
        assert_eq!(message(Lang::Zh, "inspected", &p), "R-1:1 件判定为 良品");
        assert_eq!(
            message(Lang::En, "inspected", &p),
            "R-1: 1 item(s) graded good"
        );
        let p = [("badge", "017".to_string()), ("role", "keeper".to_string())];
        assert_eq!(message(Lang::Zh, "logged_in", &p), "已登录:017(仓管员)");
        let p = [
            ("role", "inspector".to_string()),
            ("action", "void".to_string()),
        ];
        assert_eq!(
            message(Lang::En, "role_not_allowed", &p),
            "Role inspector may not void a return"
        );
    }

    /// A put-away names its zones and bins in the operator's language, never `defect/D01`.
    #[test]
    fn zones_are_named_in_the_operators_language() {
        let p = [
            ("return_id", "R-1".to_string()),
            ("items", "3".to_string()),
            ("zone", "defect/D01,good".to_string()),
        ];
        assert_eq!(
            message(Lang::Zh, "put_away", &p),
            "R-1:3 件已上架到 不良区 D01、良品区"
        );
        assert_eq!(
            message(Lang::En, "put_away", &p),
            "R-1: 3 item(s) put away to Defect zone D01, Good zone"
        );
        let p = [
            ("item_no", "2".to_string()),
            ("zone", "pending".to_string()),
        ];
        assert_eq!(
            message(Lang::Zh, "item_not_in_zone", &p),
            "第 2 件不在 待处理区"
        );
    }

    /// Every claimed reason the policy knows has its words (the handheld shows them).
    #[test]
    fn claimed_reasons_have_words() {
        for r in crate::domain::policy::ClaimedReason::ALL {
            let code = format!("claimed.{}", r.as_str());
            assert!(template(Lang::Zh, &code).is_some(), "{code}");
            assert!(template(Lang::En, &code).is_some(), "{code}");
        }
    }

    /// No code is listed twice.
    #[test]
    fn codes_are_unique() {
        let mut c: Vec<_> = codes().collect();
        c.sort();
        let n = c.len();
        c.dedup();
        assert_eq!(n, c.len());
    }
}
