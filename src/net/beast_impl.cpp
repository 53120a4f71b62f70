// The one translation unit that compiles Beast for the whole program.
#include <boost/beast/src.hpp>
