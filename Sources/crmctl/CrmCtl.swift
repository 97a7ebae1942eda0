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
        Exit status: 0 on success; on a failed call, the gRPC status code of the
        answer (3 INVALID_ARGUMENT, 5 NOT_FOUND, 12 UNIMPLEMENTED, 14 UNAVAILABLE
        when crmd cannot be reached, ...); 64 for a usage error.
        """,
        subcommands: [HealthCommand.self, PluginsCommand.self, ServicesCommand.self,
                      CallCommand.self, BenchCommand.self, EventsCommand.self, BackupCommand.self,
                      ContactsCommand.self, SeedCommand.self])
}

struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "crmd's socket (default: $CRM_SOCKET, else ./crm.sock).")
    var socket: String?

    var path: String { socket ?? Connection.defaultSocketPath }

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
