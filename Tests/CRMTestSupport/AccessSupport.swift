import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

/// Users, teams and roles for tests of record scope and the audit trail.
///
/// `start` makes the test process's own uid (root in CI, which is also
/// crmd's uid) a trusted proxy: a call with `actingAs(name)` metadata then
/// acts as that CRM user, exactly as crm-web's calls will. Calls without
/// it act as an administrator. For OS users, run crmctl with
/// `CrmctlRun.run(_:socket:uid:)` under a uid bound with `uids:`.
public enum AccessSupport {
    /// crmd with `plugins`, its socket open to other uids, this process's
    /// uid a trusted proxy.
    public static func start(plugins: [String], arguments: [String] = []) throws -> CrmdProcess {
        let crmd = try CrmdProcess(plugins: plugins, arguments: [
            "--socket-mode", "0666", "--trusted-proxy-uid", "\(getuid())"] + arguments)
        chmod(crmd.dir, 0o755)
        return crmd
    }

    /// The metadata that makes a call act for CRM user `name`.
    public static func actingAs(_ name: String) -> [String: String] { ["crm-user": name] }

    public static func createUser(_ crmd: CrmdProcess, _ name: String, uids: [UInt32] = [], roles: [String] = []) async throws {
        let connection = try crmd.connect()
        _ = try await connection.call("/crm.kernel.v1.Access/CreateUser", Crm_Kernel_V1_CreateUserRequest.with {
            $0.name = name
            $0.uids = uids
        }, as: Crm_Kernel_V1_User.self)
        for role in roles {
            _ = try await connection.call("/crm.kernel.v1.Access/Grant", Crm_Kernel_V1_GrantRequest.with {
                $0.user = name
                $0.role = role
            }, as: Crm_Kernel_V1_User.self)
        }
    }

    public static func createTeam(_ crmd: CrmdProcess, _ name: String, members: [String]) async throws {
        _ = try await crmd.connect().call("/crm.kernel.v1.Access/CreateTeam", Crm_Kernel_V1_CreateTeamRequest.with {
            $0.name = name
            $0.members = members
        }, as: Crm_Kernel_V1_Team.self)
    }

    public static func grant(_ crmd: CrmdProcess, _ user: String, _ role: String) async throws {
        _ = try await crmd.connect().call("/crm.kernel.v1.Access/Grant", Crm_Kernel_V1_GrantRequest.with {
            $0.user = user
            $0.role = role
        }, as: Crm_Kernel_V1_User.self)
    }

    public static func revoke(_ crmd: CrmdProcess, _ user: String, _ role: String) async throws {
        _ = try await crmd.connect().call("/crm.kernel.v1.Access/Revoke", Crm_Kernel_V1_RevokeRequest.with {
            $0.user = user
            $0.role = role
        }, as: Crm_Kernel_V1_User.self)
    }
}
