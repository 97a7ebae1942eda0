import CRMPluginABI

/// Reads an array a plugin handed over, whose elements all start with
/// `uint32_t struct_size`: the plugin's header may be older (smaller
/// elements) or newer (larger ones) than crmd's. Each element is copied into
/// a zeroed host-side struct, as far as both sizes reach, stepping by the
/// plugin's stamp; a field the plugin's header lacked stays zero.
enum ABIArray {
    /// More elements than any real plugin declares: a garbage count.
    static let maximumCount = 100_000
    /// Larger than any struct of the header will grow to: a garbage stamp.
    static let maximumElementSize = 65_536

    /// `minimumSize` is the element size of the first header that had this
    /// struct; smaller stamps are corrupt. `what` names the array in errors.
    static func read<Element>(_ base: UnsafeRawPointer?, count: Int, as _: Element.Type,
                              minimumSize: Int, what: String) throws -> [Element] {
        guard count > 0 else { return [] }
        guard let base else { throw PluginLoadError("\(what): \(count) entries but no array") }
        guard count <= maximumCount else { throw PluginLoadError("\(what): \(count) entries, at most \(maximumCount)") }
        let stride = Int(base.loadUnaligned(as: UInt32.self))
        guard stride >= minimumSize else {
            throw PluginLoadError("\(what): entries are \(stride) bytes, need at least \(minimumSize)")
        }
        // Every struct of the header is 8-byte aligned with fields of at most
        // 8 bytes, so a real size is a multiple of 8 and never ends inside a
        // field: copying up to it never takes half a pointer.
        guard stride % 8 == 0, stride <= maximumElementSize else {
            throw PluginLoadError("\(what): entries are stamped \(stride) bytes, not a struct size (a multiple of 8 up to \(maximumElementSize))")
        }
        let hostSize = MemoryLayout<Element>.size
        return try (0..<count).map { index in
            let element = base + index * stride
            let stamped = Int(element.loadUnaligned(as: UInt32.self))
            guard stamped == stride else {
                throw PluginLoadError("\(what): entry \(index) is stamped \(stamped) bytes, the first \(stride)")
            }
            return withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { slot in
                let raw = UnsafeMutableRawPointer(slot.baseAddress!)
                raw.initializeMemory(as: UInt8.self, repeating: 0, count: hostSize)
                raw.copyMemory(from: element, byteCount: min(stride, hostSize))
                return raw.load(as: Element.self)
            }
        }
    }
}

extension ABIArray {
    /// A plugin's array of C strings (topics, patterns); a NULL entry reads as nil.
    static func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?, count: Int, what: String) throws -> [String?] {
        guard count > 0 else { return [] }
        guard let list, count <= maximumCount else {
            throw PluginLoadError("\(what): \(count) entries but no usable array (at most \(maximumCount))")
        }
        return (0..<count).map { list[$0].map { String(cString: $0) } }
    }
}

/// The element sizes of ABI 1's first release: every plugin stamps at least these.
enum ABIFirstRelease {
    static let methodDefSize = MemoryLayout<crm_method_def>.offset(of: \crm_method_def.plugin_handler)!
    static let dependencyDefSize = MemoryLayout<crm_dependency_def>.size
    static let migrationDefSize = MemoryLayout<crm_migration_def>.size
}
