#!/usr/bin/perl
# Structure of the nginx glue (CONTRIBUTING.md, "Layout"): the files of src/ import each other
# without a circle (every layer only uses the ones below it), and no file of the repository
# cites the interface contract by paragraph number, which no file here holds.

use strict;
use warnings;
use FindBin;
use File::Find;
use Test::More;

my $root = "$FindBin::Bin/..";
my %src;
find(sub { $src{$File::Find::name} = 1 if /\.rs$/ }, "$root/src");

# Module path of each file: src/conf/mod.rs -> conf, src/conf/keys.rs -> conf::keys.
my %file_of;
for my $f (keys %src) {
    (my $m = $f) =~ s{^\Q$root\E/src/}{};
    $m =~ s{(/mod)?\.rs$}{};
    $m =~ s{/}{::}g;
    $file_of{$m} = $f;
}
ok(scalar(keys %file_of) > 10, 'src/ has its modules') or BAIL_OUT('no sources');

sub target {
    my ($path) = @_;    # e.g. "conf::keys::cmd_add_key_file" or "util"
    my @p = split /::/, $path;
    while (@p) {
        my $m = join '::', @p;
        return $m if exists $file_of{$m};
        pop @p;
    }
    return undef;
}

my %edges;
for my $m (sort keys %file_of) {
    open my $fh, '<', $file_of{$m} or die "$file_of{$m}: $!";
    local $/;
    my $code = <$fh>;
    $code =~ s{//[^\n]*}{}g;
    my $parent = $m =~ /^(.*)::[^:]+$/ ? $1 : undef;
    my @refs;
    while ($code =~ /\bcrate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)/g) { push @refs, $1 }
    while ($code =~ /\buse crate::\{([^}]*)\}/g) {
        my $group = $1;
        push @refs, $group =~ /\b([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)/g;
    }
    if (defined $parent) {
        while ($code =~ /\bsuper::(\*|[a-z_][a-z0-9_]*)/g) {
            my $t = $1 eq '*' ? $parent : target("${parent}::$1") // $parent;
            push @refs, $t;
        }
        push @refs, $parent if $code =~ /\bsuper::\{/;
    }
    # `mod x;` declarations (the module tree) are not imports; `use x::...` inside mod.rs is.
    while ($code =~ /^\s*(?:pub(?:\([a-z]+\))?\s+)?use\s+([a-z_][a-z0-9_]*)::/mg) {
        my $t = target("${m}::$1");
        push @refs, $t if defined $t;
    }
    for my $r (@refs) {
        my $t = target($r) // next;
        $edges{$m}{$t} = 1 if $t ne $m;
    }
}

# Depth-first search for a circle.
my (%state, @stack, @circles);
sub visit {
    my ($m) = @_;
    $state{$m} = 1;
    push @stack, $m;
    for my $t (sort keys %{ $edges{$m} || {} }) {
        if (($state{$t} // 0) == 1) {
            my @c = @stack;
            shift @c while $c[0] ne $t;
            push @circles, join(' -> ', @c, $t);
        } elsif (!$state{$t}) {
            visit($t);
        }
    }
    pop @stack;
    $state{$m} = 2;
}
visit($_) for grep { !$state{$_} } sort keys %file_of;
is(scalar(@circles), 0, 'no import circle among src/ files')
    or diag(join "\n", map {"circle: $_"} @circles);
ok($edges{decide}{conf} && $edges{access}{decide}, 'the dependency scan sees imports')
    or diag(explain(\%edges));

# Citations of the contract by paragraph: a reader of the repository cannot follow them.
my @cites;
find(
    {   no_chdir => 1,
        preprocess => sub { grep { !/^(target|node_modules|\.git|build|build-asan)$/ } @_ },
        wanted => sub {
            return unless -f $_ && /\.(rs|pm|t|md|sh|toml|conf|lua|py)$/;
            open my $fh, '<', $_ or return;
            while (my $l = <$fh>) {
                push @cites, "$File::Find::name:$.: $l" if $l =~ /SPEC \x{a7}|SPEC \xc2\xa7/;
            }
        },
    },
    $root
);
is(scalar(@cites), 0, 'no "SPEC <paragraph>" citation in the repository') or diag(@cites);

done_testing;
