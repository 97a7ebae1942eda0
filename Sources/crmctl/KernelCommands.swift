import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Show whether crmd and each service are serving.")

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "One service, e.g. crm.kernel.v1.Plugins (default: all).")
    var service: String?

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            let response = try await client.call(
                "/crm.kernel.v1.Health/Check",
                Crm_Kernel_V1_HealthCheckRequest.with { $0.service = service ?? "" },
                as: Crm_Kernel_V1_HealthCheckResponse.self)
            print("status: \(statusName(response.status))")
            for entry in response.services {
                print("  \(entry.service.padding(toLength: 40, withPad: " ", startingAt: 0)) \(statusName(entry.status))  (\(entry.plugin))")
            }
            if response.status != .serving { throw ExitCode(Int32(Crm_Rpc_V1_StatusCode.unavailable.rawValue)) }
        }
    }

    private func statusName(_ status: Crm_Kernel_V1_ServingStatus) -> String {
        switch status {
        case .serving: return "SERVING"
        case .notServing: return "NOT_SERVING"
        case .serviceUnknown: return "SERVICE_UNKNOWN"
        default: return "UNKNOWN"
        }
    }
}

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List plugins: loaded, disabled or failed, and why.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            var token = ""
            repeat {
                let page = try await client.call(
                    "/crm.kernel.v1.Plugins/List",
                    Crm_Kernel_V1_ListPluginsRequest.with { $0.pageToken = token },
                    as: Crm_Kernel_V1_ListPluginsResponse.self)
                for plugin in page.plugins {
                    let state: String
                    switch plugin.state {
                    case .loaded: state = "loaded"
                    case .disabled: state = "disabled"
                    case .failed: state = "FAILED"
                    default: state = "unknown"
                    }
                    let version = plugin.version.isEmpty ? "-" : plugin.version
                    var line = "\(plugin.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(version.padding(toLength: 8, withPad: " ", startingAt: 0)) \(state)"
                    if !plugin.reason.isEmpty { line += ": \(plugin.reason)" }
                    print(line)
                    if !plugin.subscribes.isEmpty {
                        var events = "    events \(plugin.subscribes.joined(separator: " ")): position \(plugin.eventPosition), lag \(plugin.eventLag)"
                        if !plugin.eventError.isEmpty { events += ", retrying: \(plugin.eventError)" }
                        print(events)
                    }
                }
                token = page.nextPageToken
            } while !token.isEmpty
        }
    }
}

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services", abstract: "List the services and methods crmd serves.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await runCalls {
            let client = try connection.connect()
            for service in try await listServices(client) {
                print("\(service.name) (\(service.plugin))")
                for method in service.methods {
                    let arrow = method.serverStreaming ? "-> stream" : "->"
                    print("  \(method.fullName)  \(method.requestType) \(arrow) \(method.responseType)  \(semantics(method))")
                }
            }
        }
    }
}

/// "[writes, idempotent, permission sales.lead.write]": what the method's
/// .proto declares; "(undeclared)" marks a plugin built before the options.
func semantics(_ method: Crm_Kernel_V1_MethodInfo) -> String {
    var parts = [method.writes ? "writes" : "reads"]
    if method.idempotent { parts.append("idempotent") }
    if !method.permission.isEmpty { parts.append("permission \(method.permission)") }
    return "[\(parts.joined(separator: ", "))]" + (method.declared ? "" : " (undeclared)")
}

/// Every service, following page tokens.
func listServices(_ client: Connection) async throws -> [Crm_Kernel_V1_ServiceInfo] {
    var services: [Crm_Kernel_V1_ServiceInfo] = []
    var token = ""
    repeat {
        let page = try await client.call(
            "/crm.kernel.v1.Reflection/ListServices",
            Crm_Kernel_V1_ListServicesRequest.with { $0.pageToken = token },
            as: Crm_Kernel_V1_ListServicesResponse.self)
        services += page.services
        token = page.nextPageToken
    } while !token.isEmpty
    return services
}
