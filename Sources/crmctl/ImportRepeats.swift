import Foundation

/// crmd sees one batch of rows per call, so it can refuse a repeated
/// external_id or id only within a batch. This remembers both across the
/// whole file, so a repeat in a later batch is the same row error, in a dry
/// run and a real run alike. (An external_id in one batch naming the person
/// an id names in another is beyond it: only crmd knows who has that id.)
struct ImportRepeats {
    private let externalIDColumn: Int?
    private let idColumn: Int?
    private var rowByExternalID: [String: Int64] = [:]
    private var rowByID: [Int64: Int64] = [:]

    /// Finds the columns the import reads as external_id and id, as crmd
    /// does: a mapped column by its mapping, another by its trimmed, lowercased name.
    init(header: [String], mapping: [String: String]) {
        func column(for field: String) -> Int? {
            header.firstIndex { name in
                let target = mapping[name] ?? name.trimmingCharacters(in: .whitespaces).lowercased()
                return target == field
            }
        }
        externalIDColumn = column(for: "external_id")
        idColumn = column(for: "id")
    }

    var isNeeded: Bool { externalIDColumn != nil || idColumn != nil }

    /// The row error for `row` if it repeats an earlier row (as column and
    /// message), else nil; a row that does not repeat is remembered.
    mutating func repeatError(_ fields: [String], row: Int64, header: [String]) -> (column: String, message: String)? {
        func value(_ column: Int?) -> String? {
            guard let column, column < fields.count else { return nil }
            let text = fields[column].trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        let externalID = value(externalIDColumn)
        let id = value(idColumn).flatMap { Int64($0) }
        if let externalID, let earlier = rowByExternalID[externalID] {
            return (header[externalIDColumn!], "external_id \"\(externalID)\" repeats row \(earlier); a file names each person once")
        }
        if let id, let earlier = rowByID[id] {
            return (header[idColumn!], "id: person \(id) is already updated by row \(earlier); a file names each person once")
        }
        if let externalID { rowByExternalID[externalID] = row }
        if let id { rowByID[id] = row }
        return nil
    }
}
