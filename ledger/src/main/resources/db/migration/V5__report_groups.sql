-- Groups: named sets of scopes (an institution or a cost centre owning several namespaces) that usage
-- reports can be cut by, beside scope, repository and user. A group's usage is the sum of its scopes'
-- usage, a member under another member of the same group adding nothing (it is in its ancestor's).
create table report_groups (
  name        text primary key,
  description text not null default '',
  updated_at  timestamptz not null default now(),
  updated_by  text not null
);

create table report_group_scopes (
  group_name text not null references report_groups (name) on delete cascade,
  scope      text not null,
  primary key (group_name, scope)
);
create index report_group_scopes_scope on report_group_scopes (scope);
