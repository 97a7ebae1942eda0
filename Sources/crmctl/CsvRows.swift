import Foundation

/// Reads a CSV file a block at a time and hands out whole rows as text
/// (a quoted field may span lines), so a big file never sits in memory.
struct CsvRowReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var finished = false

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CrmctlError("cannot open \(path)")
        }
        self.handle = handle
    }

    /// The next row's text including its line end, or nil at the end of the file.
    mutating func nextRow() throws -> String? {
        var inQuotes = false
        var index = position
        while true {
            if index >= buffer.count {
                if finished {
                    guard position < buffer.count else { return nil }
                    defer { position = buffer.count }
                    return String(decoding: buffer[position...], as: UTF8.self) + "\n"
                }
                // fill() drops the bytes before `position`: the scan moves with them.
                index -= position
                fill()
                continue
            }
            let byte = buffer[index]
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if byte == UInt8(ascii: "\n") && !inQuotes {
                defer { position = index + 1 }
                return String(decoding: buffer[position...index], as: UTF8.self)
            }
            index += 1
        }
    }

    private mutating func fill() {
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        let data = handle.readData(ofLength: 1 << 20)
        if data.isEmpty { finished = true } else { buffer += data }
    }

    /// Splits one row's text into fields (for the header).
    static func fields(_ row: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var previous: Character = " "
        for c in row.trimmingCharacters(in: .newlines) {
            if c == "\"" {
                if inQuotes { inQuotes = false } else { inQuotes = true; if previous == "\"" { field.append("\"") } }
            } else if c == "," && !inQuotes {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
            previous = c
        }
        fields.append(field)
        return fields
    }
}

struct CrmctlError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
