{
  description = "ringhttpd: a small, fast HTTP/1.1 server for Linux, with an io_uring engine";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      # io_uring and cachestat are Linux interfaces.
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        ringhttpd = pkgs.stdenv.mkDerivation {
          pname = "ringhttpd";
          # One home for the version: CMakeLists.txt's project().
          version = builtins.head (builtins.match ".*project\\(ringhttpd VERSION ([0-9.]+).*"
            (builtins.readFile ./CMakeLists.txt));
          src = self;
          nativeBuildInputs = [ pkgs.cmake pkgs.pkg-config ];
          buildInputs = [ pkgs.liburing pkgs.libdeflate ];
          # The uring engine, with the threads engine as its fallback.
          cmakeFlags = [ "-DUSE_IOURING=ON" "-DCMAKE_BUILD_TYPE=Release" ];
          # The unit tests need nothing but the build; the integration suite
          # starts servers on ports, which the Nix sandbox does not allow.
          doCheck = true;
          checkPhase = "ctest --output-on-failure";
          meta = {
            description = "Small, fast HTTP/1.1 server with an io_uring engine";
            platforms = pkgs.lib.platforms.linux;
            mainProgram = "ringhttpd";
          };
        };
        default = ringhttpd;
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.ringhttpd ];
          packages = [
            pkgs.python3Packages.pytest
            pkgs.curl
            pkgs.clang-tools
            pkgs.gdb
            pkgs.strace
            pkgs.wrk
            pkgs.mandoc
          ];
        };
      });
    };
}
