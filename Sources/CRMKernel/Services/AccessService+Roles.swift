import CRMKernelContract
import CRMKernelCore
import CRMWire

/// Access/ListRoles, CreateRole, UpdateRole, DeleteRole: first-party roles
/// are code and read-only; custom roles live in kernel_access_roles.
extension AccessService {
    var roleMethods: [KernelMethod] {
        [
            Self.method("ListRoles", Crm_Kernel_V1_ListRolesRequest.self) { [access] req in
                let all = access.read { model in
                    (FirstPartyRoles.all.map { Self.message($0, firstParty: true) }
                        + model.customRoles.values.map { Self.message($0.role, version: $0.version) })
                        .sorted { $0.name < $1.name }
                }
                let (page, next) = try PageToken.page(all, list: "access.roles", size: req.pageSize, token: req.pageToken)
                return Crm_Kernel_V1_ListRolesResponse.with { $0.roles = page; $0.nextPageToken = next }
            },
            Self.idempotent("CreateRole", Crm_Kernel_V1_CreateRoleRequest.self, access) { req, model in
                try AccessModel.checkName(req.name, field: "name")
                guard model.role(named: req.name) == nil else { throw RPCError(.alreadyExists, "a role named \(req.name) exists") }
                let grants = try Self.checkedGrants(req.permissions, description: req.description_p)
                let role = AccessModel.CustomRole(
                    id: model.nextID, role: AccessRole(name: req.name, description: req.description_p, grants: grants))
                model.nextID += 1
                model.customRoles[role.role.name] = role
                let row = AccessStore.Statement(
                    "INSERT INTO kernel_access_roles (id, name, description, version) VALUES (?, ?, ?, 1)",
                    [.integer(role.id), .text(role.role.name), .text(role.role.description)])
                return (Self.message(role.role, version: role.version), [row] + Self.grantRows(role))
            },
            Self.method("UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.self) { [access] req in
                try access.write { model in
                    if FirstPartyRoles.byName[req.name] != nil {
                        throw RPCError(.failedPrecondition, "role \(req.name) is first-party and read-only; create a custom role instead")
                    }
                    guard var role = model.customRoles[req.name] else { throw RPCError(.notFound, "no role named \(req.name)") }
                    if req.expectedVersion != 0 && req.expectedVersion != role.version {
                        throw RPCError(.aborted, "role \(role.role.name) is at version \(role.version), not \(req.expectedVersion)")
                    }
                    role.role.grants = try Self.checkedGrants(req.permissions, description: req.description_p)
                    role.role.description = req.description_p
                    role.version += 1
                    model.customRoles[role.role.name] = role
                    let statements = [
                        AccessStore.Statement("UPDATE kernel_access_roles SET description = ?, version = ? WHERE id = ?",
                                              [.text(role.role.description), .integer(role.version), .integer(role.id)]),
                        AccessStore.Statement("DELETE FROM kernel_access_role_grants WHERE role_id = ?", [.integer(role.id)]),
                    ] + Self.grantRows(role)
                    return (Self.message(role.role, version: role.version), statements)
                }
            },
            Self.method("DeleteRole", Crm_Kernel_V1_DeleteRoleRequest.self) { [access] req in
                try access.write { model in
                    if FirstPartyRoles.byName[req.name] != nil {
                        throw RPCError(.failedPrecondition, "role \(req.name) is first-party and cannot be deleted")
                    }
                    guard let role = model.customRoles[req.name] else { throw RPCError(.notFound, "no role named \(req.name)") }
                    let holders = model.users.values.filter { $0.roles.contains(req.name) }.map(\.name).sorted()
                    guard holders.isEmpty else {
                        throw RPCError(.failedPrecondition,
                                       "role \(req.name) is held by \(holders.prefix(10).joined(separator: ", ")); revoke it first")
                    }
                    model.customRoles[req.name] = nil
                    return (Crm_Kernel_V1_DeleteRoleResponse(), [
                        .init("DELETE FROM kernel_access_role_grants WHERE role_id = ?", [.integer(role.id)]),
                        .init("DELETE FROM kernel_access_roles WHERE id = ?", [.integer(role.id)])])
                }
            },
        ]
    }

    /// The grants of a CreateRole or UpdateRole, checked.
    private static func checkedGrants(_ permissions: [Crm_Kernel_V1_RolePermission], description: String) throws -> [RoleGrant] {
        guard description.utf8.count <= 500 else { throw RPCError(.invalidArgument, "description is over 500 bytes") }
        guard (1...200).contains(permissions.count) else {
            throw RPCError(.invalidArgument, "a role needs 1 to 200 permissions, not \(permissions.count)")
        }
        return try permissions.enumerated().map { index, permission in
            guard PermissionPattern.isValid(permission.permission) else {
                throw RPCError(.invalidArgument, "permissions[\(index)] \"\(permission.permission)\" is not a permission or pattern "
                               + "(\"*\", \"<prefix>.*\", \"*.<action>\" or \"<plugin>.<entity>.<action>\")")
            }
            switch permission.scope {
            case .own, .team, .all: return RoleGrant(pattern: permission.permission, scope: permission.scope)
            default: throw RPCError(.invalidArgument, "permissions[\(index)] needs a scope: OWN, TEAM or ALL")
            }
        }
    }

    private static func grantRows(_ role: AccessModel.CustomRole) -> [AccessStore.Statement] {
        role.role.grants.enumerated().map { position, grant in
            .init("INSERT INTO kernel_access_role_grants (role_id, position, pattern, scope) VALUES (?, ?, ?, ?)",
                  [.integer(role.id), .integer(Int64(position)), .text(grant.pattern), .integer(Int64(grant.scope.rawValue))])
        }
    }

    static func message(_ role: AccessRole, firstParty: Bool = false, version: Int64 = 0) -> Crm_Kernel_V1_Role {
        .with {
            $0.name = role.name
            $0.description_p = role.description
            $0.permissions = role.grants.map { grant in .with { $0.permission = grant.pattern; $0.scope = grant.scope } }
            $0.firstParty = firstParty
            $0.version = version
        }
    }
}
