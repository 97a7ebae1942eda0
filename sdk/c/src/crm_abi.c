/* Compile-time checks of the ABI's layout promises. This file is also what
 * makes sdk/c a C module that Swift code (crmd, the plugin kit) can import. */
#include "crm/plugin.h"

_Static_assert(offsetof(crm_method_def, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(crm_plugin_def, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(crm_host_api, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(crm_call_context, struct_size) == 0, "struct_size leads");
_Static_assert(sizeof(crm_status) == sizeof(int), "status is an int");
