//! Device discovery from sysfs, without libudev: the hidraw nodes and serial ports this
//! machine has, with their USB identity. The roots are parameters ([`Roots`]) so tests and
//! `returnsd devices --sysfs DIR --dev DIR` can point at a fake tree.
//!
//! - hidraw: `SYSFS/class/hidraw/hidrawN/device/uevent` (`HID_ID=0003:0000VVVV:0000PPPP`,
//!   `HID_NAME`, `HID_UNIQ`) and `…/device/report_descriptor` (its top-level usages tell a
//!   HID POS interface, usage page 0x8C, from a keyboard or a vendor interface);
//! - tty: `SYSFS/class/tty/ttyACM*|ttyUSB*`, walking up from `device` to the USB device
//!   directory (the first with `idVendor`) for `idVendor`, `idProduct`, `serial`,
//!   `manufacturer`, `product`;
//! - `DEV/serial/by-id/*` symlinks name the stable path of each serial port.
//!
//! Every read is best effort: a node whose files are missing or unreadable is listed with
//! what could be read (or skipped when not even its id is known). Nothing here opens a
//! device node. `returnsd devices` is rendered by [`super::devices_cmd`].

use std::path::{Path, PathBuf};

use super::hiddesc;

/// Where sysfs and /dev are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub sysfs: PathBuf,
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sysfs: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// USB identity of a device, from its USB device directory in sysfs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbInfo {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
}

/// One hidraw node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidNode {
    /// `hidraw3`.
    pub name: String,
    /// `DEV/hidraw3`.
    pub dev_path: PathBuf,
    pub vendor_id: u16,
    pub product_id: u16,
    /// `HID_NAME`.
    pub hid_name: Option<String>,
    /// `HID_UNIQ` (the USB serial number on most scanners), else the USB `serial`.
    pub serial: Option<String>,
    /// Top-level application collections (usage page, usage).
    pub usages: Vec<(u16, u16)>,
    /// The report descriptor, when readable.
    pub descriptor: Option<Vec<u8>>,
}

impl HidNode {
    /// The first top-level usage page.
    pub fn usage_page(&self) -> Option<u16> {
        self.usages.first().map(|u| u.0)
    }

    /// A HID POS bar code scanner interface (usage page 0x8C).
    pub fn is_hidpos(&self) -> bool {
        self.usages.iter().any(|u| u.0 == hiddesc::PAGE_BARCODE)
    }

    /// A keyboard interface (Generic Desktop / Keyboard).
    pub fn is_keyboard(&self) -> bool {
        self.usages
            .contains(&(hiddesc::PAGE_GENERIC_DESKTOP, hiddesc::USAGE_KEYBOARD))
    }
}

/// One serial port backed by a USB device or a USB-serial bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialNode {
    /// `ttyACM0`.
    pub name: String,
    /// `DEV/ttyACM0`.
    pub dev_path: PathBuf,
    /// `DEV/serial/by-id/usb-…-if00`, the stable path.
    pub by_id: Option<PathBuf>,
    pub usb: Option<UsbInfo>,
}

fn read_trim(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn hex16(s: &str) -> Option<u16> {
    u16::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

/// `HID_ID=0003:00000C2E:00000B8F` → (0x0c2e, 0x0b8f).
fn parse_hid_id(v: &str) -> Option<(u16, u16)> {
    let mut it = v.split(':');
    let _bus = it.next()?;
    let vid = u32::from_str_radix(it.next()?, 16).ok()?;
    let pid = u32::from_str_radix(it.next()?, 16).ok()?;
    Some((vid as u16, pid as u16))
}

/// Walks up from a device directory to the USB device (the first with `idVendor`), staying
/// inside the sysfs root.
fn usb_info(sysfs: &Path, device: &Path) -> Option<UsbInfo> {
    let root = std::fs::canonicalize(sysfs).ok()?;
    let mut dir = std::fs::canonicalize(device).ok()?;
    for _ in 0..8 {
        if !dir.starts_with(&root) || dir == root {
            return None;
        }
        if let Some(v) = read_trim(&dir.join("idVendor")).and_then(|s| hex16(&s)) {
            return Some(UsbInfo {
                vendor_id: v,
                product_id: read_trim(&dir.join("idProduct"))
                    .and_then(|s| hex16(&s))
                    .unwrap_or(0),
                serial: read_trim(&dir.join("serial")),
                manufacturer: read_trim(&dir.join("manufacturer")),
                product: read_trim(&dir.join("product")),
            });
        }
        dir = dir.parent()?.to_path_buf();
    }
    None
}

fn sorted_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // hidraw2 before hidraw10.
    names.sort_by_key(|n| {
        let digits = n.trim_start_matches(|c: char| !c.is_ascii_digit());
        (
            n[..n.len() - digits.len()].to_string(),
            digits.parse::<u64>().unwrap_or(0),
        )
    });
    names
}

/// One hidraw node by name (`hidraw3`), or `None` when sysfs does not know it.
pub fn hidraw_node(roots: &Roots, name: &str) -> Option<HidNode> {
    let device = roots.sysfs.join("class/hidraw").join(name).join("device");
    let uevent = std::fs::read_to_string(device.join("uevent")).ok()?;
    let mut ids = None;
    let mut hid_name = None;
    let mut uniq = None;
    for line in uevent.lines() {
        match line.split_once('=') {
            Some(("HID_ID", v)) => ids = parse_hid_id(v),
            Some(("HID_NAME", v)) if !v.trim().is_empty() => hid_name = Some(v.trim().into()),
            Some(("HID_UNIQ", v)) if !v.trim().is_empty() => uniq = Some(v.trim().into()),
            _ => {}
        }
    }
    let (vendor_id, product_id) = ids?;
    let descriptor = std::fs::read(device.join("report_descriptor")).ok();
    let usages = descriptor
        .as_deref()
        .map(hiddesc::top_level_usages)
        .unwrap_or_default();
    let serial = uniq.or_else(|| usb_info(&roots.sysfs, &device).and_then(|u| u.serial));
    Some(HidNode {
        name: name.to_string(),
        dev_path: roots.dev.join(name),
        vendor_id,
        product_id,
        hid_name,
        serial,
        usages,
        descriptor,
    })
}

/// Every hidraw node, in number order.
pub fn hidraw_nodes(roots: &Roots) -> Vec<HidNode> {
    sorted_entries(&roots.sysfs.join("class/hidraw"))
        .iter()
        .filter(|n| n.starts_with("hidraw"))
        .filter_map(|n| hidraw_node(roots, n))
        .collect()
}

/// `DEV/serial/by-id` links by the node name they point to.
fn by_id_links(dev: &Path) -> Vec<(String, PathBuf)> {
    let dir = dev.join("serial/by-id");
    sorted_entries(&dir)
        .into_iter()
        .filter_map(|n| {
            let link = dir.join(&n);
            let target = std::fs::read_link(&link).ok()?;
            let node = target.file_name()?.to_string_lossy().into_owned();
            Some((node, link))
        })
        .collect()
}

/// Every USB serial port (`ttyACM*`, `ttyUSB*`), in name order.
pub fn serial_ports(roots: &Roots) -> Vec<SerialNode> {
    let links = by_id_links(&roots.dev);
    sorted_entries(&roots.sysfs.join("class/tty"))
        .into_iter()
        .filter(|n| n.starts_with("ttyACM") || n.starts_with("ttyUSB"))
        .map(|name| {
            let device = roots.sysfs.join("class/tty").join(&name).join("device");
            SerialNode {
                dev_path: roots.dev.join(&name),
                by_id: links.iter().find(|(n, _)| *n == name).map(|l| l.1.clone()),
                usb: usb_info(&roots.sysfs, &device),
                name,
            }
        })
        .collect()
}

/// Which hidraw node a HID scanner config means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HidTarget {
    /// A device path (`/dev/hidraw3`, or a udev symlink to it).
    pub path: Option<PathBuf>,
    pub vendor_id: Option<u16>,
    pub product_id: Option<u16>,
    /// USB serial number (`HID_UNIQ`), to tell identical scanners apart.
    pub serial: Option<String>,
}

/// The interface a transport reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    HidPos,
    Keyboard,
}

/// The node to open for a target, if it is plugged in. By path: the node the path names
/// (its sysfs entry, when there is one, gives the descriptor). By id: the first node with
/// that vendor/product (and serial) whose interface is the wanted one; when no descriptor
/// can be read, a node of that device is taken only if it is the device's only one.
pub fn find_hid(roots: &Roots, target: &HidTarget, want: Want) -> Option<HidNode> {
    if let Some(path) = &target.path {
        if !path.exists() {
            return None;
        }
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let name = real.file_name()?.to_string_lossy().into_owned();
        let mut node = hidraw_node(roots, &name).unwrap_or(HidNode {
            name,
            dev_path: path.clone(),
            vendor_id: 0,
            product_id: 0,
            hid_name: None,
            serial: None,
            usages: Vec::new(),
            descriptor: None,
        });
        node.dev_path = path.clone();
        return Some(node);
    }
    let of_device: Vec<HidNode> = hidraw_nodes(roots)
        .into_iter()
        .filter(|n| target.vendor_id.is_none_or(|v| v == n.vendor_id))
        .filter(|n| target.product_id.is_none_or(|p| p == n.product_id))
        .filter(|n| target.serial.is_none() || target.serial == n.serial)
        .collect();
    let wanted = |n: &HidNode| match want {
        Want::HidPos => n.is_hidpos(),
        Want::Keyboard => n.is_keyboard(),
    };
    if let Some(n) = of_device.iter().find(|n| wanted(n)) {
        return Some(n.clone());
    }
    match of_device.as_slice() {
        [only] if only.usages.is_empty() => Some(only.clone()),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::devices::hiddesc::from_hex;
    use crate::devices::hiddesc::tests::{COUNTED, KEYBOARD};
    use std::os::unix::fs::symlink;

    /// A fake sysfs + /dev tree shaped like the kernel's (class entries are symlinks into
    /// `devices/…`, `device` links up to the HID device, the USB device holds `idVendor`).
    pub struct FakeTree {
        pub dir: tempfile::TempDir,
    }

    impl FakeTree {
        pub fn new() -> Self {
            let t = FakeTree {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::create_dir_all(t.sys().join("class/hidraw")).unwrap();
            std::fs::create_dir_all(t.sys().join("class/tty")).unwrap();
            std::fs::create_dir_all(t.dev().join("serial/by-id")).unwrap();
            t
        }
        pub fn sys(&self) -> PathBuf {
            self.dir.path().join("sys")
        }
        pub fn dev(&self) -> PathBuf {
            self.dir.path().join("dev")
        }
        pub fn roots(&self) -> Roots {
            Roots {
                sysfs: self.sys(),
                dev: self.dev(),
            }
        }

        fn usb_device(
            &self,
            port: &str,
            vid: u16,
            pid: u16,
            serial: &str,
            product: &str,
        ) -> PathBuf {
            let d = self.sys().join("devices/pci0000:00/usb1").join(port);
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in [
                ("idVendor", format!("{vid:04x}")),
                ("idProduct", format!("{pid:04x}")),
                ("serial", serial.to_string()),
                ("manufacturer", "ACME".to_string()),
                ("product", product.to_string()),
            ] {
                std::fs::write(d.join(f), format!("{v}\n")).unwrap();
            }
            d
        }

        #[allow(clippy::too_many_arguments)] // a fixture builder: every id is a parameter
        /// A hidraw node `hidrawN` on USB port `port`, interface `iface`; the dev node is
        /// not created (the caller decides: FIFO, nothing).
        pub fn add_hidraw(
            &self,
            n: u32,
            port: &str,
            iface: u8,
            vid: u16,
            pid: u16,
            serial: &str,
            desc: &[u8],
        ) {
            let usb = self.usb_device(port, vid, pid, serial, "Scanner");
            let hid = usb
                .join(format!("{port}:1.{iface}"))
                .join(format!("0003:{vid:04X}:{pid:04X}.000{n}"));
            let node = hid.join("hidraw").join(format!("hidraw{n}"));
            std::fs::create_dir_all(&node).unwrap();
            std::fs::write(
                hid.join("uevent"),
                format!("DRIVER=hid-generic\nHID_ID=0003:0000{vid:04X}:0000{pid:04X}\nHID_NAME=ACME Scanner\nHID_PHYS=usb-0000:00:14.0-{port}/input{iface}\nHID_UNIQ={serial}\n"),
            )
            .unwrap();
            std::fs::write(hid.join("report_descriptor"), desc).unwrap();
            symlink("../..", node.join("device")).unwrap();
            let rel = node.strip_prefix(self.sys()).unwrap();
            symlink(
                Path::new("../..").join(rel),
                self.sys().join(format!("class/hidraw/hidraw{n}")),
            )
            .unwrap();
        }

        pub fn remove_hidraw(&self, n: u32) {
            std::fs::remove_file(self.sys().join(format!("class/hidraw/hidraw{n}"))).unwrap();
        }

        pub fn add_tty(
            &self,
            name: &str,
            port: &str,
            vid: u16,
            pid: u16,
            serial: &str,
            by_id: Option<&str>,
        ) {
            let usb = self.usb_device(port, vid, pid, serial, "Serial Scanner");
            let node = usb.join(format!("{port}:1.0")).join("tty").join(name);
            std::fs::create_dir_all(&node).unwrap();
            symlink("../..", node.join("device")).unwrap();
            let rel = node.strip_prefix(self.sys()).unwrap();
            symlink(
                Path::new("../..").join(rel),
                self.sys().join("class/tty").join(name),
            )
            .unwrap();
            if let Some(l) = by_id {
                symlink(
                    format!("../../{name}"),
                    self.dev().join("serial/by-id").join(l),
                )
                .unwrap();
            }
        }
    }

    #[test]
    fn hidraw_nodes_with_usb_identity_and_usage_pages() {
        let t = FakeTree::new();
        let counted = from_hex(COUNTED).unwrap();
        // Honeywell: the HID POS interface and the vendor interface (usage page 0xFF8C).
        let vendor = from_hex("06 8C FF 09 01 A1 01 85 FD 75 08 95 3F 09 01 81 02 C0").unwrap();
        t.add_hidraw(10, "1-2", 1, 0x0c2e, 0x0b8f, "", &vendor);
        t.add_hidraw(2, "1-2", 0, 0x0c2e, 0x0b8f, "", &counted);
        t.add_hidraw(
            3,
            "1-3",
            0,
            0x05e0,
            0x1200,
            "S123",
            &from_hex(KEYBOARD).unwrap(),
        );
        let nodes = hidraw_nodes(&t.roots());
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["hidraw2", "hidraw3", "hidraw10"]);
        assert_eq!((nodes[0].vendor_id, nodes[0].product_id), (0x0c2e, 0x0b8f));
        assert_eq!(nodes[0].usage_page(), Some(0x8C));
        assert_eq!(nodes[2].usage_page(), Some(0xFF8C));
        assert_eq!(nodes[0].serial.as_deref(), None);
        assert_eq!(nodes[1].serial.as_deref(), Some("S123"));
        assert!(nodes[1].is_keyboard() && !nodes[1].is_hidpos());
        assert_eq!(nodes[0].dev_path, t.dev().join("hidraw2"));

        // By id, the HID POS interface is picked, not the vendor one listed after it.
        let target = HidTarget {
            vendor_id: Some(0x0c2e),
            ..Default::default()
        };
        assert_eq!(
            find_hid(&t.roots(), &target, Want::HidPos).unwrap().name,
            "hidraw2"
        );
        assert!(find_hid(&t.roots(), &target, Want::Keyboard).is_none());
        let by_serial = HidTarget {
            vendor_id: Some(0x05e0),
            serial: Some("S124".into()),
            ..Default::default()
        };
        assert!(find_hid(&t.roots(), &by_serial, Want::Keyboard).is_none());
        t.remove_hidraw(2);
        assert!(find_hid(&t.roots(), &target, Want::HidPos).is_none());
    }

    #[test]
    fn serial_ports_with_by_id_paths_and_usb_identity() {
        let t = FakeTree::new();
        t.add_tty(
            "ttyACM0",
            "1-4",
            0x0c2e,
            0x0b8a,
            "17001",
            Some("usb-Honeywell_1900-if00"),
        );
        t.add_tty("ttyUSB0", "1-5", 0x0403, 0x6001, "FT1", None);
        std::fs::create_dir_all(t.sys().join("class/tty/ttyS0")).unwrap();
        let ports = serial_ports(&t.roots());
        assert_eq!(ports.len(), 2, "{ports:?}");
        assert_eq!(ports[0].name, "ttyACM0");
        assert_eq!(
            ports[0].by_id.as_deref(),
            Some(
                t.dev()
                    .join("serial/by-id/usb-Honeywell_1900-if00")
                    .as_path()
            )
        );
        let usb = ports[0].usb.clone().unwrap();
        assert_eq!(
            (usb.vendor_id, usb.product_id, usb.serial.as_deref()),
            (0x0c2e, 0x0b8a, Some("17001"))
        );
        assert_eq!(ports[1].by_id, None);
        assert_eq!(ports[1].usb.as_ref().unwrap().vendor_id, 0x0403);
        // An empty machine: nothing, no error.
        let empty = Roots {
            sysfs: t.dir.path().join("nope"),
            dev: t.dir.path().join("nope"),
        };
        assert!(serial_ports(&empty).is_empty() && hidraw_nodes(&empty).is_empty());
    }
}
