import CRMWire

/// Page tokens for the kernel's lists: opaque, tied to one list and to this
/// run of crmd, and checked, so a token the server never issued (or one from
/// another list, or from before a restart) is INVALID_ARGUMENT. The lists are
/// fixed once crmd has started, so an offset stays meaningful between pages.
enum PageToken {
    static let defaultPageSize = 100
    static let maxPageSize = 1000
    private static let runSalt = UInt64.random(in: 1...UInt64.max)

    /// The slice of `items` a request asks for, and the token for the next page.
    static func page<T>(_ items: [T], list: String, size: UInt32, token: String) throws -> ([T], String) {
        var start = 0
        if !token.isEmpty {
            let parts = token.split(separator: "-")
            guard parts.count == 2, let offset = Int(parts[0]), offset > 0, offset < items.count,
                  String(offset) == parts[0], parts[1] == check(list, offset) else {
                throw RPCError(.invalidArgument, "page_token is not valid")
            }
            start = offset
        }
        let pageSize = size == 0 ? defaultPageSize : min(Int(size), maxPageSize)
        let end = min(items.count, start + pageSize)
        return (Array(items[start..<end]), end < items.count ? "\(end)-\(check(list, end))" : "")
    }

    /// FNV-1a over the list name, the offset and this run's salt.
    private static func check(_ list: String, _ offset: Int) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array("\(list)|\(offset)|\(runSalt)".utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 36)
    }
}
