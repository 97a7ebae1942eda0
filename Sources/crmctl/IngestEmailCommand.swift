import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation

/// For a mail server's pipe: one RFC 5322 message on standard input to the
/// service module's IngestEmail.
struct IngestEmailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-email",
        abstract: "File one email read from standard input as a ticket or reply (service's Mailbox/IngestEmail).",
        discussion: """
        Prints the inbound email's record (outcome, ticket_id, reason, duplicate) as one JSON line.
        With --sysexits the exit status is what mail servers expect of a pipe: 0 filed (or rejected on
        purpose); 75 (EX_TEMPFAIL: the mail server keeps the message and tries again) when crmd cannot
        be reached or is busy, and also when the call lacks the permission or scope (a setup mistake:
        fixing it must not cost the queued mail); 65 (EX_DATAERR, bounced) only for a message crmd
        cannot read (INVALID_ARGUMENT) or one over its max message size. Postfix:
          support: "|crmctl --socket /run/crm/crm.sock ingest-email --sysexits --recipient support@example.com"
        """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "The envelope recipient (Postfix's ${original_recipient}).")
    var recipient: String?

    @Flag(name: .long, help: "Exit with sysexits(3) codes for a mail server (see above).")
    var sysexits = false

    func run() async throws {
        let raw = FileHandle.standardInput.readDataToEndOfFile()
        var request = Crm_Service_V1_IngestEmailRequest()
        request.raw = raw
        request.recipient = recipient ?? ""
        if let recipient, !recipient.contains("@") {
            // A setup mistake too: refuse before reading the message.
            throw ValidationError("--recipient must be an email address")
        }
        do {
            let client = try connection.connect()
            let response = try await client.call("/crm.service.v1.Mailbox/IngestEmail", request,
                                                 as: Crm_Service_V1_IngestEmailResponse.self)
            var shown = response.email
            shown.attachments = []
            var line = Crm_Service_V1_IngestEmailResponse()
            line.email = shown
            line.duplicate = response.duplicate
            print(try line.jsonString())
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("crmctl: \(error.code.name): \(error.message)\n".utf8))
            guard sysexits else { throw ExitCode(Int32(error.code.rawValue)) }
            switch error.code {
            case .invalidArgument:
                throw ExitCode(65)
            case .resourceExhausted where !error.message.contains("in flight"):
                throw ExitCode(65)
            default:
                throw ExitCode(75)
            }
        } catch where sysexits && !(error is ExitCode) {
            FileHandle.standardError.write(Data("crmctl: \(error)\n".utf8))
            throw ExitCode(75)
        }
    }
}
