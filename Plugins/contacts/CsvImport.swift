import CRMPluginKit
import ContactsContract
import Foundation

/// CSV import, one call per chunk of rows, idempotent by id and external id
/// (see ImportRun for how a row finds its person).
enum CsvImport {
    static let maxRows = 5_000
    static let maxErrors = 1_000
    static let fields: Set<String> = ["id", "first_name", "last_name", "email", "phone", "job_title", "organization",
                                      "organization_id", "owner", "source", "lifecycle_stage", "notes", "tags", "external_id"]

    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "ImportPeople", importPeople)
    }

    static func importPeople(_ ctx: CallContext, _ req: Crm_Contacts_V1_ImportPeopleRequest) throws -> Crm_Contacts_V1_ImportPeopleResponse {
        guard !req.header.isEmpty, req.header.count <= 200 else {
            throw PluginError.invalidArgument("header must name between 1 and 200 columns")
        }
        // Row numbers are first_row_number + index: keep the sum in range.
        try Checked.inRange(req.firstRowNumber, 0...(Int64.max - Int64(maxRows)), "first_row_number")
        let columns = try resolve(req.header, req.mapping)
        let rows: [[String]]
        do { rows = try CSV.parse(req.csv) } catch let error as CSV.ParseError {
            throw PluginError.invalidArgument("csv row \(rowNumber(req, error.row)): \(error.message)")
        }
        guard rows.count <= maxRows else { throw PluginError.invalidArgument("csv has \(rows.count) rows; send at most \(maxRows) per call") }
        var run = ImportRun(ctx: ctx, db: try ctx.database, dryRun: req.dryRun)
        for (index, row) in rows.enumerated() {
            let number = rowNumber(req, index)
            guard row.count == req.header.count else {
                run.fail(number, "", "has \(row.count) columns, the header has \(req.header.count)")
                continue
            }
            do {
                try run.importRow(zip(columns, row).compactMap { column, value in column.map { ($0, value) } }, row: number)
            } catch let error as PluginError where error.status != .internal && error.status != .unavailable {
                run.fail(number, column(for: error.message, req.header, columns), error.message)
            }
        }
        return run.response
    }

    /// The file row number: the header is row 1.
    /// A CSV parse error can come from past row 5,000 (the count is checked
    /// after parsing), so the sum saturates rather than trap.
    private static func rowNumber(_ req: Crm_Contacts_V1_ImportPeopleRequest, _ index: Int) -> Int64 {
        let (number, overflow) = (req.firstRowNumber > 0 ? req.firstRowNumber : 2).addingReportingOverflow(Int64(index))
        return overflow ? .max : number
    }

    /// Each column's field, or nil to ignore it.
    private static func resolve(_ header: [String], _ mapping: [String: String]) throws -> [String?] {
        for (column, field) in mapping where !header.contains(column) {
            throw PluginError.invalidArgument("mapping names column \"\(column)\" (for \(field)), which the header lacks")
        }
        return try header.map { column in
            if let field = mapping[column] {
                guard field.isEmpty || fields.contains(field) || field.hasPrefix("custom.") else {
                    throw PluginError.invalidArgument("mapping[\"\(column)\"]: \"\(field)\" is not an importable field")
                }
                return field.isEmpty ? nil : field
            }
            let field = column.trimmedSpaces.lowercased()
            return fields.contains(field) || field.hasPrefix("custom.") ? field : nil
        }
    }

    /// The CSV column whose field an error message names; the longest match
    /// wins, so "external_id" is not taken for "id".
    private static func column(for message: String, _ header: [String], _ columns: [String?]) -> String {
        var best = ("", 0)
        for (name, field) in zip(header, columns) {
            guard let field else { continue }
            let path: String
            switch field {
            case "email": path = "emails"
            case "phone": path = "phones"
            default: path = field.hasPrefix("custom.") ? "custom_fields." + field.dropFirst(7) : field
            }
            // "id" is in too many words to match anywhere; its errors start with it.
            let named = path == "id" ? message.hasPrefix("id ") || message.hasPrefix("id:") : message.contains(path)
            if named && path.count > best.1 { best = (name, path.count) }
        }
        return best.0
    }
}
