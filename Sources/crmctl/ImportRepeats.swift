import Foundation

/// crmd sees one batch of rows per call, so it can refuse a repeated
/// external_id or id only within a batch. This remembers both across the
/// batches of a file, so a repeat in a later batch gets the row error crmd
/// gives within one, in a dry run and a real run alike. As in crmd, a key
/// counts only once a row holding it was imported: a row crmd refused
/// (a bad cell, say) does not make a corrected copy after it a repeat.
/// (An external_id in one batch naming the person an id names in another
/// is beyond it: only crmd knows who has that id.)
struct ImportRepeats {
    enum Key: Hashable { case externalID(String), id(Int64) }

    private let header: [String]
    private let externalIDColumn: Int?
    private let idColumn: Int?
    /// Rows of batches already sent, by key, in file order.
    private var sent: [Key: [Int64]] = [:]
    /// Rows of the batch being built.
    private var building: [(Key, Int64)] = []

    /// Finds the columns crmd reads as external_id and id: a mapped column
    /// by its mapping, another by its trimmed, lowercased name; the last wins.
    init(header: [String], mapping: [String: String]) {
        self.header = header
        func column(for field: String) -> Int? {
            header.lastIndex { (mapping[$0] ?? Self.trimmed($0).lowercased()) == field }
        }
        externalIDColumn = column(for: "external_id")
        idColumn = column(for: "id")
    }

    var isNeeded: Bool { externalIDColumn != nil || idColumn != nil }

    /// The keys of a row crmd could import; none for a row it will refuse
    /// on its own (a wrong number of cells, an id that is not positive).
    func keys(_ fields: [String]) -> [Key] {
        guard fields.count == header.count else { return [] }
        var keys: [Key] = []
        if let column = externalIDColumn, case let value = Self.trimmed(fields[column]), !value.isEmpty {
            keys.append(.externalID(value))
        }
        if let column = idColumn, let id = Int64(Self.trimmed(fields[column])), id > 0 { keys.append(.id(id)) }
        return keys
    }

    /// Rows of earlier batches holding one of `keys`, each with its key.
    func earlierRows(_ keys: [Key]) -> [(Key, [Int64])] {
        keys.compactMap { key in sent[key].map { (key, $0) } }
    }

    /// The row error for a repeat of `key`, first imported at `row`.
    func error(_ key: Key, earlier row: Int64) -> (column: String, message: String) {
        switch key {
        case .externalID(let value):
            return (header[externalIDColumn!], "external_id \"\(value)\" repeats row \(row); a file names each person once")
        case .id(let id):
            return (header[idColumn!], "id: person \(id) is already updated by row \(row); a file names each person once")
        }
    }

    mutating func add(_ keys: [Key], row: Int64) { for key in keys { building.append((key, row)) } }

    /// The batch being built has been sent.
    mutating func batchSent() {
        for (key, row) in building { sent[key, default: []].append(row) }
        building.removeAll()
    }

    /// crmd's trimming of a cell: spaces and tabs (and Unicode spaces), not line breaks.
    static func trimmed(_ text: String) -> String {
        func isSpace(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\t" || (!s.isASCII && s.properties.generalCategory == .spaceSeparator) }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
