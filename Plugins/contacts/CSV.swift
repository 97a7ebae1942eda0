/// RFC 4180 CSV: fields separated by commas, quoted with double quotes when
/// they hold commas, quotes or line breaks; rows end with CRLF or LF.
enum CSV {
    struct ParseError: Error {
        let row: Int  // 0-based row within the parsed text
        let message: String
    }

    static func parse(_ text: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var fieldStarted = false
        while let c = iterator.next() {
            if inQuotes {
                if c == "\"" { inQuotes = false; afterQuote = true } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"":
                if afterQuote { field.append("\""); inQuotes = true; afterQuote = false }
                else if field.isEmpty && !fieldStarted { inQuotes = true }
                else { throw ParseError(row: rows.count, message: "a quote inside an unquoted field") }
            case ",":
                row.append(field); field = ""; afterQuote = false; fieldStarted = false
                continue
            case "\r":
                continue
            case "\n":
                row.append(field); field = ""; afterQuote = false; fieldStarted = false
                rows.append(row); row = []
                continue
            default:
                if afterQuote { throw ParseError(row: rows.count, message: "text after a closing quote") }
                field.unicodeScalars.append(c)
            }
            fieldStarted = true
        }
        if inQuotes { throw ParseError(row: rows.count, message: "a quoted field is not closed") }
        if fieldStarted || afterQuote || !row.isEmpty || !field.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }

    static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func line(_ fields: [String]) -> String { fields.map(escape).joined(separator: ",") + "\r\n" }
}
