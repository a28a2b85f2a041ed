//! `returnsd devices`: what scanners this machine can see, and a ready-to-paste
//! `[[scanners]]` snippet for each. Reads sysfs and /dev only ([`super::discover`]); needs
//! no daemon and no config. `--sysfs DIR --dev DIR` point it at a fake tree (tests); the
//! snippets then carry `sysfs_root` / `dev_root` so the daemon looks in the same place.

use serde_json::{Value, json};

use super::discover::{self, HidNode, Roots, SerialNode};
use super::profiles::{self, Transport};

/// One device as listed.
struct Entry {
    kind: &'static str,
    path: String,
    stable_path: Option<String>,
    vendor_id: Option<u16>,
    product_id: Option<u16>,
    usage_page: Option<u16>,
    name: Option<String>,
    serial: Option<String>,
    /// What the interface is (`HID POS scanner`, `keyboard`, `vendor-defined`, …).
    role: String,
    profile: Option<&'static str>,
    snippet: Option<String>,
}

fn hex(v: Option<u16>) -> String {
    v.map_or_else(|| "????".into(), |v| format!("{v:04x}"))
}

fn roots_lines(roots: &Roots) -> String {
    let d = Roots::default();
    let mut s = String::new();
    if roots.sysfs != d.sysfs {
        s += &format!(
            "sysfs_root = {:?}   # test/advanced: a fake sysfs tree\n",
            roots.sysfs.display().to_string()
        );
    }
    if roots.dev != d.dev {
        s += &format!(
            "dev_root = {:?}     # test/advanced: a fake /dev tree\n",
            roots.dev.display().to_string()
        );
    }
    s
}

fn serial_entry(p: &SerialNode) -> Entry {
    let (vendor_id, product_id) = (
        p.usb.as_ref().map(|u| u.vendor_id),
        p.usb.as_ref().map(|u| u.product_id),
    );
    let profile =
        profiles::matching(vendor_id, product_id, Transport::Serial).map(|p| p.name.as_str());
    let stable = p.by_id.as_ref().map(|b| b.display().to_string());
    let path = stable
        .clone()
        .unwrap_or_else(|| p.dev_path.display().to_string());
    let mut snippet = String::from("[[scanners]]\n");
    if let Some(pr) = profile {
        snippet += &format!("profile = {pr:?}\n");
    }
    snippet +=
        &format!("path = {path:?}\nbench = \"bench-1\"      # the bench its scans belong to\n");
    let name = p.usb.as_ref().map(|u| {
        [u.manufacturer.as_deref(), u.product.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Entry {
        kind: "serial",
        path: p.dev_path.display().to_string(),
        stable_path: stable,
        vendor_id,
        product_id,
        usage_page: None,
        name: name.filter(|n| !n.is_empty()),
        serial: p.usb.as_ref().and_then(|u| u.serial.clone()),
        role: "serial port".into(),
        profile,
        snippet: Some(snippet),
    }
}

fn hid_entry(n: &HidNode, roots: &Roots) -> Entry {
    let transport = if n.is_hidpos() {
        Some(Transport::HidPos)
    } else if n.is_keyboard() {
        Some(Transport::Keyboard)
    } else {
        None
    };
    let role = match (transport, n.usage_page()) {
        (Some(Transport::HidPos), _) => "HID POS scanner (usage page 0x8C)".to_string(),
        (Some(_), _) => "keyboard (a keyboard-wedge scanner, or a real keyboard)".to_string(),
        (None, Some(p)) if p >= 0xFF00 => {
            format!("vendor-defined interface (usage page 0x{p:04X}): not read")
        }
        (None, Some(p)) => format!("other HID device (usage page 0x{p:02X}): not a scanner"),
        (None, None) => "HID device without a readable report descriptor".to_string(),
    };
    let profile = transport
        .and_then(|t| profiles::matching(Some(n.vendor_id), Some(n.product_id), t))
        .map(|p| p.name.as_str());
    let snippet = transport.map(|t| {
        let mut s = String::from("[[scanners]]\n");
        if let Some(pr) = profile {
            s += &format!("profile = {pr:?}\n");
        }
        s += &format!(
            "transport = {:?}\nvendor_id = \"{:04x}\"\nproduct_id = \"{:04x}\"\n",
            t.as_str(),
            n.vendor_id,
            n.product_id
        );
        if let Some(sn) = &n.serial {
            s += &format!("serial_number = {sn:?}\n");
        }
        s += "bench = \"bench-1\"      # the bench its scans belong to\n";
        s += &roots_lines(roots);
        s
    });
    Entry {
        kind: "hid",
        path: n.dev_path.display().to_string(),
        stable_path: None,
        vendor_id: Some(n.vendor_id),
        product_id: Some(n.product_id),
        usage_page: n.usage_page(),
        name: n.hid_name.clone(),
        serial: n.serial.clone(),
        role,
        profile,
        snippet,
    }
}

fn to_json(e: &Entry) -> Value {
    json!({
        "kind": e.kind,
        "path": e.path,
        "stable_path": e.stable_path,
        "vendor_id": e.vendor_id.map(|v| format!("{v:04x}")),
        "product_id": e.product_id.map(|v| format!("{v:04x}")),
        "usage_page": e.usage_page.map(|p| format!("0x{p:02X}")),
        "name": e.name,
        "serial_number": e.serial,
        "role": e.role,
        "profile": e.profile,
        "snippet": e.snippet,
    })
}

/// The command's output (text or JSON), from the trees under `roots`.
pub fn render(roots: &Roots, as_json: bool) -> String {
    let serial: Vec<Entry> = discover::serial_ports(roots)
        .iter()
        .map(serial_entry)
        .collect();
    let hid: Vec<Entry> = discover::hidraw_nodes(roots)
        .iter()
        .map(|n| hid_entry(n, roots))
        .collect();
    if as_json {
        let v = json!({
            "sysfs": roots.sysfs.display().to_string(),
            "dev": roots.dev.display().to_string(),
            "serial": serial.iter().map(to_json).collect::<Vec<_>>(),
            "hid": hid.iter().map(to_json).collect::<Vec<_>>(),
        });
        return format!("{v:#}\n");
    }
    let mut out = String::new();
    if serial.is_empty() && hid.is_empty() {
        out += &format!(
            "No scanners found: no USB serial ports (ttyACM*, ttyUSB*) under {} and no hidraw devices under {}.\n\
             Plug a scanner in (USB HID POS or USB serial mode preferred) and run this again.\n",
            roots.sysfs.join("class/tty").display(),
            roots.sysfs.join("class/hidraw").display()
        );
        return out;
    }
    for (title, list) in [("Serial ports", &serial), ("HID devices", &hid)] {
        out += &format!("{title}: {}\n", list.len());
        for e in list.iter() {
            out += &format!("\n  {}", e.path);
            if let Some(s) = &e.stable_path {
                out += &format!("  (stable: {s})");
            }
            out += &format!(
                "\n    id       {}:{}\n",
                hex(e.vendor_id),
                hex(e.product_id)
            );
            if let Some(n) = &e.name {
                out += &format!("    name     {n}\n");
            }
            if let Some(s) = &e.serial {
                out += &format!("    serial   {s}\n");
            }
            out += &format!("    is       {}\n", e.role);
            out += &format!("    profile  {}\n", e.profile.unwrap_or("-"));
            if let Some(snippet) = &e.snippet {
                out += "    config:\n";
                for line in snippet.lines() {
                    out += &format!("      {line}\n");
                }
            }
        }
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::discover::tests::FakeTree;
    use crate::devices::hiddesc::{from_hex, tests::COUNTED};

    #[test]
    fn lists_devices_profiles_and_snippets() {
        let t = FakeTree::new();
        t.add_hidraw(
            0,
            "1-2",
            0,
            0x0c2e,
            0x0b8f,
            "17001",
            &from_hex(COUNTED).unwrap(),
        );
        t.add_hidraw(
            1,
            "1-2",
            1,
            0x0c2e,
            0x0b8f,
            "17001",
            &from_hex("06 8C FF 09 01 A1 01 C0").unwrap(),
        );
        t.add_tty(
            "ttyACM0",
            "1-4",
            0x1eab,
            0x0d10,
            "N1",
            Some("usb-Newland_FM420-if00"),
        );
        let text = render(&t.roots(), false);
        assert!(text.contains("HID POS scanner (usage page 0x8C)"), "{text}");
        assert!(text.contains("profile  honeywell-hidpos"), "{text}");
        assert!(
            text.contains("vendor-defined interface (usage page 0xFF8C)"),
            "{text}"
        );
        assert!(text.contains("profile = \"newland\""), "{text}");
        assert!(text.contains("usb-Newland_FM420-if00"), "{text}");
        assert!(text.contains("serial_number = \"17001\""), "{text}");
        assert!(
            text.contains("sysfs_root = "),
            "fake roots go into the snippet: {text}"
        );
        let v: Value = serde_json::from_str(&render(&t.roots(), true)).unwrap();
        assert_eq!(v["hid"][0]["usage_page"], "0x8C");
        assert_eq!(v["hid"][1]["snippet"], Value::Null);
        assert_eq!(v["serial"][0]["vendor_id"], "1eab");
    }

    #[test]
    fn an_empty_machine_says_so() {
        let t = FakeTree::new();
        let text = render(&t.roots(), false);
        assert!(text.starts_with("No scanners found"), "{text}");
        let v: Value = serde_json::from_str(&render(&t.roots(), true)).unwrap();
        assert_eq!(v["hid"], json!([]));
    }
}
