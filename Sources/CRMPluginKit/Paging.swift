import Foundation

/// Keyset pagination for list methods: a page is "the rows after this
/// cursor", so page 1,000 costs what page 1 does and rows inserted meanwhile
/// never shift a page. The token is the sort key of the page's last row,
/// opaque to clients.
public struct Paging {
    public static let defaultPageSize = 50
    public static let maxPageSize = 500

    /// Rows to return.
    public let limit: Int
    /// The previous page's last sort key, or nil for the first page.
    public let after: [SQLValue]?

    /// Validates `page_size` and decodes `page_token`. 0 means the default;
    /// a size above the maximum is served as the maximum (AIP-158 coerces
    /// it so, and the protos and docs/MODULES.md say so).
    public init(pageSize: Int32, pageToken: String, keyCount: Int) throws {
        guard pageSize >= 0 else { throw PluginError.invalidArgument("page_size must not be negative") }
        limit = pageSize == 0 ? Self.defaultPageSize : min(Int(pageSize), Self.maxPageSize)
        if pageToken.isEmpty {
            after = nil
        } else {
            guard let values = Self.decode(pageToken), values.count == keyCount else {
                throw PluginError.invalidArgument("page_token is not a token this list returned")
            }
            after = values
        }
    }

    /// The token for the page after `rows` when the page came back full.
    /// Fetch `limit + 1` rows to know: `nextToken` drops the extra one.
    public func page<Row>(_ rows: [Row], key: (Row) -> [SQLValue]) -> (rows: [Row], nextToken: String) {
        guard rows.count > limit else { return (rows, "") }
        let kept = Array(rows.prefix(limit))
        return (kept, Self.encode(key(kept[kept.count - 1])))
    }

    static func encode(_ values: [SQLValue]) -> String {
        let items: [Any] = values.map { value -> Any in
            switch value {
            case .integer(let v): return ["i": String(v)]
            case .text(let v): return ["t": v]
            case .real(let v): return ["r": v]
            case .null, .blob: return ["n": 0]
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: items)) ?? Data()
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String) -> [SQLValue]? {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard token.count <= 4096, let data = Data(base64Encoded: base64),
              let items = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
        var values: [SQLValue] = []
        for item in items {
            if let text = item["i"] as? String, let v = Int64(text) { values.append(.integer(v)) }
            else if let v = item["t"] as? String { values.append(.text(v)) }
            else if let v = item["r"] as? Double { values.append(.real(v)) }
            else if item["n"] != nil { values.append(.null) }
            else { return nil }
        }
        return values
    }
}
