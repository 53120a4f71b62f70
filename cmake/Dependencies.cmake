# Every dependency comes from Debian 12's archive (scripts/install-deps.sh installs them).
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
# Debian's unversioned Boost is 1.74; Drover needs 1.81 (Boost.JSON, current Beast).
find_package(Boost 1.81.0...<1.82 REQUIRED CONFIG COMPONENTS json)
find_package(OpenSSL 3 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
# Deployment templates (src/deploy/template/); Debian 12 ships 0.7.
find_package(yaml-cpp 0.7 REQUIRED)
find_package(GTest REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# PostgreSQL backend of the store: libpqxx 6.4 over libpq 15 (Debian libpqxx-dev, libpq-dev).
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4 libpq>=15)
# Open MPI (openmpi-bin, libopenmpi-dev): Drover does not link it; the MPI integration test builds a
# program with mpicc and runs it across compute nodes.
find_program(DROVER_MPICC mpicc)
