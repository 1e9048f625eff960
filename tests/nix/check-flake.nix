# check-flake.nix - evaluate flake.nix's outputs offline, against a stub of
# the nixpkgs attributes it uses (this machine cannot fetch nixpkgs):
#   nix-instantiate --eval --strict --json tests/nix/check-flake.nix --arg flakeDir ./.
#   (from the repository root; another directory evaluates its flake.nix)
# Every attribute below exists in nixpkgs (nixos-24.05) under that name; a
# flake that asks for one not listed (a misspelling) fails to evaluate.
{ flakeDir }:
let
  flake = import (flakeDir + "/flake.nix");
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  lib = {
    inherit genAttrs;
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
  };
  pkgsFor = system: {
    inherit lib;
    stdenv = {
      hostPlatform.system = system;
      mkDerivation = attrs: attrs // { type = "derivation"; };
    };
    mkShell = attrs: attrs // { type = "derivation"; };
    cmake = "cmake";
    pkg-config = "pkg-config";
    liburing = "liburing";
    libdeflate = "libdeflate";
    python3Packages.pytest = "pytest";
    curl = "curl";
    clang-tools = "clang-tools";
    gdb = "gdb";
    strace = "strace";
    wrk = "wrk";
    mandoc = "mandoc";
  };
  nixpkgs = {
    inherit lib;
    legacyPackages = genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor;
  };
  self = flake.outputs { inherit self nixpkgs; } // { outPath = flakeDir; };
  pkg = self.packages.x86_64-linux.ringhttpd;
  shell = self.devShells.x86_64-linux.default;
in
{
  description = flake.description;
  nixpkgsUrl = flake.inputs.nixpkgs.url;
  systems = builtins.attrNames self.packages;
  shellSystems = builtins.attrNames self.devShells;
  defaultIsRinghttpd = self.packages.aarch64-linux.default.pname == "ringhttpd";
  inherit (pkg) pname version nativeBuildInputs buildInputs cmakeFlags doCheck checkPhase;
  mainProgram = pkg.meta.mainProgram;
  srcIsTheFlake = pkg.src.outPath == self.outPath;
  shellInputsFrom = map (p: p.pname) shell.inputsFrom;
  shellPackages = shell.packages;
}
