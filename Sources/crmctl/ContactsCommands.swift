import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation

struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "Bulk work on the contacts module: CSV import and export.",
        subcommands: [ImportContactsCommand.self, ExportContactsCommand.self])
}

struct ImportContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import people from a CSV file with a header row.",
        discussion: """
        Columns named like a field (first_name, last_name, email, phone, job_title,
        organization, owner, source, lifecycle_stage, notes, tags, external_id, id, organization_id,
        custom.<key>) are imported; map others with --map "E-mail=email".
        A row with an id (as export writes) updates that person; one with an
        external_id updates the person who has it; so importing a file twice,
        or re-importing an export, changes nothing the second time. A file
        names each person once: a repeated id or external_id is a row error.
        Bad rows are reported and skipped. Exit status 3 if any row failed.
        """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The CSV file (UTF-8, RFC 4180).")
    var file: String

    @Option(name: .long, help: "column=field; repeatable. An empty field ignores the column.")
    var map: [String] = []

    @Flag(name: .long, help: "Check every row and report; write nothing.")
    var dryRun = false

    @Option(name: .long, help: "Rows per call (one transaction each), at most 5000.")
    var batch = 2_000

    @Option(name: .long, help: "Row errors to print.")
    var maxErrors = 50

    func validate() throws {
        guard (1...5_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 5000") }
        for entry in map where !entry.contains("=") { throw ValidationError("--map needs column=field, got \(entry)") }
    }

    func run() async throws {
        try await runCalls {
            var reader = try CsvRowReader(path: file)
            guard let headerRow = try reader.nextRow() else { throw ValidationError("\(file) is empty") }
            let header = CsvRowReader.fields(headerRow)
            let mapping = Dictionary(map.map { entry -> (String, String) in
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(parts[0]), String(parts[1]))
            }) { $1 }
            let importer = try ChunkedImport(connection: connection.connect(), header: header, mapping: mapping,
                                             dryRun: dryRun, maxErrors: maxErrors)
            var repeats = ImportRepeats(header: header, mapping: mapping)
            var rowNumber: Int64 = 2
            var chunk = ""
            var rows = 0
            func sendChunk() async throws {
                if rows > 0 { try await importer.send(chunk, firstRow: rowNumber) }
                repeats.batchSent()
                rowNumber += Int64(rows)
                chunk = ""
                rows = 0
            }
            while let row = try reader.nextRow() {
                let keys = repeats.isNeeded ? repeats.keys(CsvRowReader.fields(row)) : []
                let earlier = repeats.earlierRows(keys)
                if !earlier.isEmpty {
                    // Which earlier rows crmd imported is known once their batches are answered.
                    try await importer.drain()
                    let imported = earlier.compactMap { key, rows in
                        rows.first { !importer.failedRows.contains($0) }.map { (key, $0) }
                    }
                    if let (key, first) = imported.first {
                        // The batch so far goes as it is; the repeat is refused here and the next batch starts after it.
                        try await sendChunk()
                        let refusal = repeats.error(key, earlier: first)
                        try await importer.refuse(row: rowNumber, column: refusal.column, message: refusal.message)
                        rowNumber += 1
                        continue
                    }
                }
                repeats.add(keys, row: rowNumber + Int64(rows))
                chunk += row
                rows += 1
                if rows == batch { try await sendChunk() }
            }
            try await sendChunk()
            let total = try await importer.finish()
            if total.failed > 0 { throw ExitCode(3) }
        }
    }
}

/// Sends chunks of rows with two calls in flight (one travels while crmd
/// writes the other) and shows progress on stderr.
final class ChunkedImport: @unchecked Sendable {
    let client: Connection
    let header: [String]
    let mapping: [String: String]
    let dryRun: Bool
    let maxErrors: Int
    private var pending: [Task<Crm_Contacts_V1_ImportPeopleResponse, Error>] = []
    private var total = Crm_Contacts_V1_ImportPeopleResponse()
    private var printedErrors = 0
    /// Rows crmd refused (of the first 1,000 errors each answer lists).
    private(set) var failedRows: Set<Int64> = []
    private let started = Date()
    private var lastProgress = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) != 0

    init(connection: Connection, header: [String], mapping: [String: String], dryRun: Bool, maxErrors: Int) throws {
        client = connection
        self.header = header
        self.mapping = mapping
        self.dryRun = dryRun
        self.maxErrors = maxErrors
    }

    func send(_ csv: String, firstRow: Int64) async throws {
        let request = Crm_Contacts_V1_ImportPeopleRequest.with {
            $0.header = header
            $0.csv = csv
            $0.mapping = mapping
            $0.dryRun = dryRun
            $0.firstRowNumber = firstRow
        }
        let client = self.client
        pending.append(Task {
            try await client.call("/crm.contacts.v1.Contacts/ImportPeople", request, as: Crm_Contacts_V1_ImportPeopleResponse.self)
        })
        if pending.count >= 2 { try await collect(pending.removeFirst()) }
    }

    /// A row crmctl refuses itself, reported in order with crmd's answers
    /// (it is called after `drain`, so nothing is in flight before it).
    func refuse(row: Int64, column: String, message: String) async throws {
        let response = Crm_Contacts_V1_ImportPeopleResponse.with {
            $0.failed = 1
            $0.errors = [.with { $0.row = row; $0.column = column; $0.message = message }]
        }
        pending.append(Task { response })
        try await drain()
    }

    /// Waits for every call in flight.
    func drain() async throws {
        while !pending.isEmpty { try await collect(pending.removeFirst()) }
    }

    func finish() async throws -> Crm_Contacts_V1_ImportPeopleResponse {
        while !pending.isEmpty { try await collect(pending.removeFirst()) }
        let seconds = Date().timeIntervalSince(started)
        let rows = total.created + total.updated + total.unchanged + total.failed
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print("\(dryRun ? "dry run: " : "")\(rows) rows in \(String(format: "%.1f", seconds)) s "
              + "(\(Int(Double(rows) / max(seconds, 1e-9))) rows/s): \(total.created) created, \(total.updated) updated, "
              + "\(total.unchanged) unchanged, \(total.failed) failed")
        return total
    }

    private func collect(_ task: Task<Crm_Contacts_V1_ImportPeopleResponse, Error>) async throws {
        let response = try await task.value
        failedRows.formUnion(response.errors.map(\.row))
        total.created += response.created
        total.updated += response.updated
        total.unchanged += response.unchanged
        total.failed += response.failed
        for error in response.errors where printedErrors < maxErrors {
            printedErrors += 1
            let column = error.column.isEmpty ? "" : ", column \(error.column)"
            FileHandle.standardError.write(Data("row \(error.row)\(column): \(error.message)\n".utf8))
        }
        if interactive && Date().timeIntervalSince(lastProgress) > 0.25 {
            lastProgress = Date()
            let rows = total.created + total.updated + total.unchanged + total.failed
            let rate = Double(rows) / max(Date().timeIntervalSince(started), 1e-9)
            FileHandle.standardError.write(Data("\r\u{1B}[K\(rows) rows, \(Int(rate)) rows/s, \(total.failed) failed".utf8))
        }
    }
}

struct ExportContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export people as CSV (re-importable) to stdout or a file.")

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "Only people with this tag.")
    var tag: String?

    @Option(name: .long, help: "Only people of this owner.")
    var owner: String?

    @Option(name: .long, help: "Only people of this organization id.")
    var organization: Int64?

    @Option(name: [.short, .long], help: "Write to this file instead of stdout.")
    var output: String?

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            let request = Crm_Contacts_V1_ExportPeopleRequest.with {
                $0.filter.tag = tag ?? ""
                $0.filter.owner = owner ?? ""
                $0.filter.organizationID = organization ?? 0
            }
            let out: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil),
                      let handle = FileHandle(forWritingAtPath: output) else { throw CrmctlError("cannot write \(output)") }
                out = handle
            } else {
                out = FileHandle.standardOutput
            }
            var rows: Int64 = 0
            for try await chunk in try client.stream("/crm.contacts.v1.Contacts/ExportPeople", request,
                                                     as: Crm_Contacts_V1_CsvChunk.self) {
                out.write(Data(chunk.csv.utf8))
                rows += chunk.rows
            }
            if output != nil { print("\(rows) people exported to \(output!)") }
        }
    }
}
