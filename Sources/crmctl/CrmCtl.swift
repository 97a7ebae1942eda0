import ArgumentParser
import CRMClient
import CRMWire
import Foundation

@main
struct CrmCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crmctl",
        abstract: "Talk to crmd over its Unix socket.",
        discussion: """
        Global option, before or after the subcommand:
          --socket PATH   crmd's socket (default: $CRM_SOCKET, else ./crm.sock)

        Exit status: 0 on success; on a failed call, the gRPC status code of the
        answer (3 INVALID_ARGUMENT, 5 NOT_FOUND, 12 UNIMPLEMENTED, 14 UNAVAILABLE
        when crmd cannot be reached, ...); 3 also for a request crmctl cannot
        encode (JSON that does not fit the type, text that is not base64), which
        it never sends; 64 for a usage error.
        """,
        subcommands: [HealthCommand.self, PluginsCommand.self, ServicesCommand.self,
                      CallCommand.self, BenchCommand.self, EventsCommand.self, BackupCommand.self,
                      ContactsCommand.self, SeedCommand.self, PluginCommand.self, AccessCommand.self,
                      AuditCommand.self, BenchEventsCommand.self, IngestEmailCommand.self])

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        do {
            try GlobalOptions.extract(from: &arguments)
        } catch {
            exit(withError: error)
        }
        await main(arguments)
    }
}

struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "crmd's socket (default: $CRM_SOCKET, else ./crm.sock); may also come before the subcommand.",
        valueName: "PATH"))
    var socket: String?

    var path: String { socket ?? GlobalOptions.socket ?? Connection.defaultSocketPath }

    func connect() throws -> Connection {
        do {
            return try Connection(path: path)
        } catch {
            throw RPCError(.unavailable, "\(error)")
        }
    }
}

/// Runs a command body, turning a failed call into its status as exit code
/// and a one-line message on stderr.
func runCalls(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RPCError {
        FileHandle.standardError.write(Data("crmctl: \(error.code.name): \(error.message)\n".utf8))
        throw ExitCode(Int32(error.code.rawValue))
    }
}
